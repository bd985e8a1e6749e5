import { useRoute } from '../../app/router.js';
import { PacketDetail } from './PacketDetail.js';
import { PacketList } from './PacketList.js';

/** `#/packets` (statistics, table, bulk download) and `#/packets/<id>` (one packet). */
export function PacketsPage() {
  const { segments } = useRoute();
  const id = segments[1];
  return id ? <PacketDetail id={id} /> : <PacketList />;
}
