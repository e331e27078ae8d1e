// The API's framing for the test servers, written apart from the client's (src/.../wire.ts) so
// that a mistake in one is not mirrored by the other. Straight from the documented encoding.
import type { Socket } from "node:net";

export function wordBytes(word: string): Buffer {
  const data = Buffer.from(word, "utf8");
  const n = data.length;
  let head: number[];
  if (n < 0x80) head = [n];
  else if (n < 0x4000) head = [0x80 | (n >> 8), n & 0xff];
  else if (n < 0x200000) head = [0xc0 | (n >> 16), (n >> 8) & 0xff, n & 0xff];
  else head = [0xe0 | (n >>> 24), (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
  return Buffer.concat([Buffer.from(head), data]);
}

export function sentenceBytes(words: readonly string[]): Buffer {
  return Buffer.concat([...words.map(wordBytes), Buffer.from([0])]);
}

/** Reads sentences from a socket; calls `onSentence` with each. */
export function readSentences(socket: Socket, onSentence: (words: string[]) => void): void {
  let buffer = Buffer.alloc(0);
  let words: string[] = [];
  socket.on("data", (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      if (buffer.length === 0) return;
      const b = buffer[0]!;
      const size = b < 0x80 ? 1 : b < 0xc0 ? 2 : b < 0xe0 ? 3 : 4;
      if (buffer.length < size) return;
      let n = size === 1 ? b : size === 2 ? b & 0x3f : size === 3 ? b & 0x1f : b & 0x0f;
      for (let i = 1; i < size; i++) n = n * 256 + buffer[i]!;
      if (buffer.length < size + n) return;
      const word = buffer.toString("utf8", size, size + n);
      buffer = buffer.subarray(size + n);
      if (n === 0) {
        const sentence = words;
        words = [];
        if (sentence.length) onSentence(sentence);
      } else words.push(word);
    }
  });
}

/** The value of `.tag=` in a command's words. */
export const tagOf = (words: readonly string[]): string | undefined => words.find((w) => w.startsWith(".tag="))?.slice(5);

/** The `=name=value` arguments of a command. */
export function argsOf(words: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const w of words) {
    if (!w.startsWith("=")) continue;
    const eq = w.indexOf("=", 1);
    out[w.slice(1, eq === -1 ? undefined : eq)] = eq === -1 ? "" : w.slice(eq + 1);
  }
  return out;
}
