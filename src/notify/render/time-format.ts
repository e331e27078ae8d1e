// Times in the office's zone. An alert must go out whatever the config says, so a bad zone
// falls back to UTC and an unparseable time is shown as it came.

export interface TimeFormat {
  full(iso: string): string;
  date(iso: string): string;
  time(iso: string): string;
  zone(iso: string): string;
}

export function timeFormat(timeZone: string | undefined): TimeFormat {
  let formatter: Intl.DateTimeFormat;
  try {
    formatter = new Intl.DateTimeFormat("en-GB", {
      timeZone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hourCycle: "h23",
      timeZoneName: "short",
    });
  } catch {
    // An unknown zone name must not stop an alert: fall back to UTC, which is never wrong.
    return timeFormat("UTC");
  }
  const parts = (iso: string) => {
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return undefined;
    const p = Object.fromEntries(formatter.formatToParts(date).map((x) => [x.type, x.value]));
    return { date: `${p.year}-${p.month}-${p.day}`, time: `${p.hour}:${p.minute}:${p.second}`, zone: p.timeZoneName ?? "" };
  };
  return {
    full: (iso) => {
      const p = parts(iso);
      return p ? `${p.date} ${p.time} ${p.zone}`.trim() : iso;
    },
    date: (iso) => parts(iso)?.date ?? iso,
    time: (iso) => parts(iso)?.time ?? iso,
    zone: (iso) => parts(iso)?.zone ?? "",
  };
}
