import type { RefusalReason } from './domain.ts';

/** A field problem, as listed in `errors` of a refusal or a problem document. */
export interface FieldError {
  path: string;
  message: string;
}

export type Refusal = { ok: false; reason: RefusalReason; errors?: FieldError[] };
/** The answer to every acknowledged socket event: exactly one per event. */
export type Ack<T extends object = object> = ({ ok: true } & T) | Refusal;
export type AckCallback<T extends object = object> = (answer: Ack<T>) => void;
