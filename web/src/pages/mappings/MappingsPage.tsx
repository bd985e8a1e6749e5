export function MappingsPage() {
  return <h1>Mappings</h1>;
}
