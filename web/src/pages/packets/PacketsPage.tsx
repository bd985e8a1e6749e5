export function PacketsPage() {
  return <h1>Packets</h1>;
}
