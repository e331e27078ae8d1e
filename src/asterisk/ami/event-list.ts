// Event lists: an action answered by `Response: Success` + `EventList: start`, then item events
// carrying its ActionID, then one `EventList: Complete` event. The events may overtake the
// response, so either side can be the one that completes the list.

import type { AmiEvent, AmiFields, AmiListResult, AmiResponse } from "./packet.js";

export function startsList(fields: AmiFields): boolean {
  return (fields.get("EventList") ?? "").toLowerCase() === "start";
}

function completesList(fields: AmiFields): boolean {
  return (fields.get("EventList") ?? "").toLowerCase() === "complete";
}

/** One list being collected; each method returns the result once both response and completion are in. */
export class EventList {
  response: AmiResponse | undefined = undefined;
  readonly items: AmiEvent[] = [];
  complete: AmiEvent | undefined = undefined;

  start(response: AmiResponse): AmiListResult | undefined {
    this.response = response;
    return this.complete ? { response, items: this.items, complete: this.complete } : undefined;
  }

  add(event: AmiEvent): AmiListResult | undefined {
    if (!completesList(event.fields)) {
      this.items.push(event);
      return undefined;
    }
    this.complete = event;
    return this.response ? { response: this.response, items: this.items, complete: event } : undefined;
  }
}
