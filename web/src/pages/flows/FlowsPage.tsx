export function FlowsPage() {
  return <h1>Flows</h1>;
}
