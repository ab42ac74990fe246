import { PricingPage } from "../../features/pricing/components/PricingPage";

export default function PricingRoute() {
  return <PricingPage />;
}
