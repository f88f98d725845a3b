/** Small shared pieces: the tone mark (shape + colour + word), cards, buttons, the language context. */
import { createContext, useContext, type ReactNode } from 'react';
import type { Card, Tone } from '../../face/face.ts';
import { strings, type Lang, type Strings } from '../../face/strings.ts';

export const LangContext = createContext<{ lang: Lang; t: Strings; setLang(l: Lang): void }>({ lang: 'ru', t: strings('ru'), setLang: () => undefined });

/** The current language and its catalogue. */
export const useT = () => useContext(LangContext);

/** The four state shapes (same as the tray): check, exclamation, cross, dash. Never colour alone. */
export function Mark({ tone, size = 20 }: { tone: Tone | 'none'; size?: number }) {
  const path = {
    green: 'M6 12.5l4 4 8-9',
    amber: 'M12 6.5v7M12 17.2v.3',
    red: 'M7.5 7.5l9 9M16.5 7.5l-9 9',
    grey: 'M7 12h10',
    none: 'M8 12h.01M12 12h.01M16 12h.01',
  }[tone];
  return (
    <svg className={`mark mark-${tone}`} width={size} height={size} viewBox="0 0 24 24" aria-hidden="true" focusable="false">
      <circle cx="12" cy="12" r="11" />
      <path d={path} />
    </svg>
  );
}

/** One of the status screen's four cards. */
export function StateCard({ card }: { card: Card }) {
  const { t } = useT();
  const word = card.tone === 'none' ? t.common.noData : t.tone[card.tone];
  return (
    <section className={`card tone-${card.tone}`} aria-labelledby={`card-${card.id}`} data-card={card.id}>
      <div className="card-head">
        <Mark tone={card.tone} />
        <h2 id={`card-${card.id}`}>{card.title}</h2>
        <span className="sr-only">: {word}</span>
      </div>
      <p className="card-state">{card.state}</p>
      {card.detail ? <p className="card-detail">{card.detail}</p> : null}
    </section>
  );
}

export function Button({ children, onClick, kind = 'secondary', disabled, type = 'button', testId }: { children: ReactNode; onClick?: () => void; kind?: 'primary' | 'secondary'; disabled?: boolean; type?: 'button' | 'submit'; testId?: string }) {
  return <button type={type} className={`btn btn-${kind}`} onClick={onClick} disabled={disabled} data-testid={testId}>{children}</button>;
}

/** A Russian or English problem message: which text to show for the language. */
export function problemText(p: { message: string; messageEn?: string; hint?: string }, lang: Lang): { message: string; hint: string | null } {
  if (lang === 'en') return { message: p.messageEn || p.message, hint: p.messageEn ? null : p.hint ?? null };
  return { message: p.message, hint: p.hint ?? null };
}
