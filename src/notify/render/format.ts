// Numbers, durations and aligned tables as alerts show them: compact, and "–" for a figure not measured.
import type { AlertStep } from "../alert.js";

export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export function shortId(id: string): string {
  return id.length > 16 ? id.slice(0, 16) : id;
}

function round(n: number, digits: number): string {
  return String(Number(n.toFixed(digits)));
}

export function percent(n: number | null | undefined): string {
  return n === null || n === undefined ? "–" : `${round(n, 1)}%`;
}

export function ms(n: number | null | undefined): string {
  return n === null || n === undefined ? "–" : `${round(n, n < 10 ? 1 : 0)} ms`;
}

export function duration(msValue: number): string {
  if (msValue < 1000) return `${Math.round(msValue)} ms`;
  if (msValue < 60_000) return `${round(msValue / 1000, msValue < 10_000 ? 2 : 1)} s`;
  const minutes = Math.floor(msValue / 60_000);
  return `${minutes} min ${Math.round((msValue % 60_000) / 1000)} s`;
}

/** Wall time covered by the steps: from the first start to the last end (steps may overlap). */
export function totalDuration(steps: readonly AlertStep[]): number {
  if (steps.every((s) => s.startMs !== undefined)) {
    return Math.max(0, ...steps.map((s) => (s.startMs ?? 0) + s.durationMs)) - Math.min(...steps.map((s) => s.startMs ?? 0));
  }
  return steps.reduce((sum, s) => sum + s.durationMs, 0);
}

/** Rows as aligned columns, two spaces apart, indented; trailing blanks trimmed. */
export function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => `  ${row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join("  ")}`.trimEnd());
}
