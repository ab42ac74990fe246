import { CheckoutSuccessPage } from "../../features/billing/components/CheckoutSuccessPage";

export default function CheckoutSuccessRoute() {
  return <CheckoutSuccessPage />;
}
