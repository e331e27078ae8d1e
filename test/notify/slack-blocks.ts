// What Slack accepts from an incoming webhook, checked the way Slack would (Block Kit limits).
const TEXT_TYPES = new Set(["plain_text", "mrkdwn"]);

function checkText(t: unknown, where: string, max: number, problems: string[], only?: string): void {
  const text = t as { type?: unknown; text?: unknown };
  if (!text || typeof text !== "object") return void problems.push(`${where}: missing text object`);
  if (typeof text.type !== "string" || !TEXT_TYPES.has(text.type)) problems.push(`${where}: bad text type ${String(text.type)}`);
  if (only && text.type !== only) problems.push(`${where}: must be ${only}`);
  if (typeof text.text !== "string" || text.text.length === 0) problems.push(`${where}: empty text`);
  else if (text.text.length > max) problems.push(`${where}: ${text.text.length} > ${max} characters`);
}

/** Problems found in a payload; empty when Slack would take it. */
export function slackPayloadProblems(payload: unknown): string[] {
  const problems: string[] = [];
  const p = payload as { text?: unknown; blocks?: unknown };
  if (typeof p?.text !== "string" || p.text.length === 0) problems.push("text fallback missing");
  if (!Array.isArray(p?.blocks)) return [...problems, "blocks is not an array"];
  if (p.blocks.length === 0 || p.blocks.length > 50) problems.push(`${p.blocks.length} blocks (1..50)`);
  p.blocks.forEach((b: Record<string, unknown>, i: number) => {
    const where = `blocks[${i}]`;
    switch (b.type) {
      case "header":
        checkText(b.text, where, 150, problems, "plain_text");
        break;
      case "section": {
        if (b.text === undefined && b.fields === undefined) problems.push(`${where}: section needs text or fields`);
        if (b.text !== undefined) checkText(b.text, where, 3000, problems);
        if (b.fields !== undefined) {
          if (!Array.isArray(b.fields) || b.fields.length > 10) problems.push(`${where}: fields must be 1..10`);
          else b.fields.forEach((f, j) => checkText(f, `${where}.fields[${j}]`, 2000, problems));
        }
        break;
      }
      case "context":
        if (!Array.isArray(b.elements) || b.elements.length === 0 || b.elements.length > 10) problems.push(`${where}: elements must be 1..10`);
        else b.elements.forEach((e, j) => checkText(e, `${where}.elements[${j}]`, 3000, problems));
        break;
      case "divider":
        break;
      default:
        problems.push(`${where}: unknown block type ${String(b.type)}`);
    }
  });
  return problems;
}
