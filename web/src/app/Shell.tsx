import { type ComponentType, useEffect, useRef } from 'react';
import { AgentsPage } from '../pages/agents/AgentsPage.js';
import { CustodyPage } from '../pages/custody/CustodyPage.js';
import { FlowsPage } from '../pages/flows/FlowsPage.js';
import { MappingsPage } from '../pages/mappings/MappingsPage.js';
import { PacketsPage } from '../pages/packets/PacketsPage.js';
import { RoutePage } from '../pages/route/RoutePage.js';
import { useAuth } from './auth.js';
import { useRoute } from './router.js';

interface Section {
  segment: string;
  label: string;
  page: ComponentType;
}

export const SECTIONS: readonly Section[] = [
  { segment: 'packets', label: 'Packets', page: PacketsPage },
  { segment: 'route', label: 'Route', page: RoutePage },
  { segment: 'flows', label: 'Flows', page: FlowsPage },
  { segment: 'agents', label: 'Agents', page: AgentsPage },
  { segment: 'mappings', label: 'Mappings', page: MappingsPage },
  { segment: 'custody', label: 'Custody', page: CustodyPage },
];

function NotFoundPage() {
  const { path } = useRoute();
  return (
    <section className="page">
      <h1>Page not found</h1>
      <p>
        Nothing lives at <code>#{path}</code>. Pick a page above, or go to{' '}
        <a href="#/packets">Packets</a>.
      </p>
    </section>
  );
}

/** Header with the main navigation and sign-out, then the current page. */
export function Shell() {
  const { segments } = useRoute();
  const { signOut } = useAuth();
  const section = SECTIONS.find((s) => s.segment === segments[0]);
  const Page = section?.page ?? NotFoundPage;
  const mainRef = useRef<HTMLElement>(null);
  const first = useRef(true);

  // On navigation, move focus to the new page's heading, as a full page load would.
  useEffect(() => {
    document.title = `${section?.label ?? 'Not found'} · wirefleet`;
    if (first.current) {
      first.current = false;
      return;
    }
    const heading = mainRef.current?.querySelector('h1');
    if (heading) {
      heading.setAttribute('tabindex', '-1');
      heading.focus({ preventScroll: false });
    }
  }, [section]);

  return (
    <div className="app">
      <header className="app-header">
        <a className="brand" href="#/packets">
          <span className="brand-mark" aria-hidden="true" />
          wirefleet
        </a>
        <nav aria-label="Main" className="main-nav">
          <ul>
            {SECTIONS.map((s) => (
              <li key={s.segment}>
                <a href={`#/${s.segment}`} aria-current={s === section ? 'page' : undefined}>
                  {s.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <button
          type="button"
          className="button button-quiet sign-out"
          onClick={() => signOut({ message: 'You signed out.' })}
        >
          Sign out
        </button>
      </header>
      <main className="app-main" ref={mainRef}>
        <Page />
      </main>
    </div>
  );
}
