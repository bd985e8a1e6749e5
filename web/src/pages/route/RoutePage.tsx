export function RoutePage() {
  return <h1>Route</h1>;
}
