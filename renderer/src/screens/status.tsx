/** Статус: one sentence answers "is it working?", four cards give the detail, the last events follow. */
import { faceOf, when } from '../../../face/face.ts';
import type { Live } from '../live.ts';
import type { Route } from '../router.ts';
import { Button, Mark, StateCard, useT } from '../ui.tsx';
import { rowText } from './journal.tsx';

export function StatusScreen({ live, go }: { live: Live; go(r: Route): void }) {
  const { t, lang } = useT();
  const face = faceOf(live.status!, lang);
  return (
    <div className="status">
      <section className={`hero tone-${face.tone}`} aria-live="polite">
        <Mark tone={face.tone} size={40} />
        <div>
          <h1 tabIndex={-1} data-testid="sentence">{face.sentence}</h1>
          {face.since ? <p className="since">{t.sentence.since(when(face.since, lang))}</p> : null}
          {face.todo ? <p className="todo">{face.todo}</p> : null}
          {face.action ? (
            <div className="actions">
              {face.action === 'setup'
                ? <Button kind="primary" onClick={() => go('setup')}>{t.nav.setup}</Button>
                : face.action === 'journal'
                ? <Button kind="primary" onClick={() => go('journal')}>{t.nav.journal}</Button>
                : <><Button kind="primary" onClick={() => go('diagnostics')}>{t.common.openDiag}</Button><Button onClick={() => void live.refresh()}>{t.common.retry}</Button></>}
            </div>
          ) : null}
        </div>
      </section>
      <div className="cards">
        {face.cards.map((c) => <StateCard key={c.id} card={c} />)}
      </div>
      <section className="recent" aria-labelledby="recent-h">
        <div className="recent-head">
          <h2 id="recent-h">{t.activity.title}</h2>
          <a href="/journal" onClick={(e) => { e.preventDefault(); go('journal'); }}>{t.activity.all}</a>
        </div>
        {live.recent.length === 0 ? <p className="muted">{t.activity.empty}</p> : (
          <ol className="events" data-testid="recent">
            {live.recent.slice(0, 5).map((r) => (
              <li key={r.id}><time dateTime={r.lastAt}>{when(r.lastAt, lang)}</time><span>{rowText(r, lang)}</span></li>
            ))}
          </ol>
        )}
      </section>
    </div>
  );
}
