// An alert as an email: a one-line subject and the plain-text body.
import type { Message } from "../notifier.js";
import { digestTitle } from "./digest.js";
import { plainBody } from "./plain-text.js";
import { prepare, type RenderOptions } from "./view.js";
import { subjectLine } from "./words.js";

export interface EmailContent {
  subject: string;
  text: string;
}

export function renderEmail(message: Message, options: RenderOptions = {}): EmailContent {
  const view = prepare(message, options);
  // A reason with a line break must not end the header (or start a forged one).
  const subject = `[wanctl] ${view.digest ? digestTitle(view) : subjectLine(view.latest)}`.replace(/\s+/g, " ");
  return { subject, text: plainBody(view) };
}
