import { createContext, useCallback, useContext, useMemo, useRef, useState, type ReactNode } from "react";
import { Dialog } from "./Dialog";

export type ConfirmOptions = {
  title: string;
  body?: ReactNode;
  confirmLabel?: string;
  cancelLabel?: string;
};

type Confirm = (options: ConfirmOptions) => Promise<boolean>;

const ConfirmContext = createContext<Confirm | null>(null);

/**
 * Promise-based confirmation dialog: `await confirm({...})` resolves true on
 * confirm, false on cancel, Escape or backdrop. A second request while one is
 * open cancels the first.
 */
export function ConfirmProvider({ children }: { children: ReactNode }) {
  const [request, setRequest] = useState<ConfirmOptions | null>(null);
  const resolver = useRef<((ok: boolean) => void) | null>(null);

  const settle = useCallback((ok: boolean) => {
    resolver.current?.(ok);
    resolver.current = null;
    setRequest(null);
  }, []);

  const confirm = useCallback<Confirm>((options) => {
    resolver.current?.(false);
    setRequest(options);
    return new Promise<boolean>((resolve) => {
      resolver.current = resolve;
    });
  }, []);

  return (
    <ConfirmContext.Provider value={confirm}>
      {children}
      <Dialog
        open={request !== null}
        onClose={() => settle(false)}
        title={request?.title ?? ""}
        role="alertdialog"
        size="sm"
        testId="confirm-dialog"
        closeTestId="confirm-close"
        footer={
          <>
            <button type="button" className="button button-ghost" data-testid="confirm-cancel" onClick={() => settle(false)}>
              {request?.cancelLabel ?? "Cancel"}
            </button>
            <button
              type="button"
              className="button button-primary"
              data-testid="confirm-accept"
              data-autofocus
              onClick={() => settle(true)}
            >
              {request?.confirmLabel ?? "Confirm"}
            </button>
          </>
        }
      >
        {request?.body}
      </Dialog>
    </ConfirmContext.Provider>
  );
}

export function useConfirm(): Confirm {
  const confirm = useContext(ConfirmContext);
  return useMemo(
    () =>
      confirm ??
      (() => {
        throw new Error("useConfirm must be used inside <ConfirmProvider>");
      }),
    [confirm],
  );
}
