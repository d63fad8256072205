"""Drawing for tools/timeline.py: the SVG timeline and the Chrome Trace
Event Format JSON.  Both take a parsed dump, its calls and its shootdowns
(tools/timeline.py computes them)."""

import json
import math
from html import escape

# ---- SVG ----

LEFT = 90            # room for the lane names
LANE = 150           # between lanes: room for the labels written upwards
TOP = 210            # above the first lane: the title, then its labels
MIN_STEP = 14        # px between two successive times: labels never touch
LOG_STEP = 22        # px per decade of the gap in ns, beyond MIN_STEP
LABEL_CHARS = 30     # a label's text is cut to this many characters

COLOURS = {
    "map": "#4c78a8", "unmap": "#4c78a8", "gather": "#9467bd",
    "sd_begin": "#1f77b4", "ipi_send": "#1f77b4", "ipi_recv": "#1f77b4",
    "inv_pages": "#17becf", "inv_full": "#17becf", "ack": "#2ca02c",
    "all_acks": "#2ca02c", "notify": "#bcbd22", "free": "#ff7f0e",
    "purge_begin": "#8c564b", "purge_end": "#8c564b", "stale_read": "#d62728",
    "step": "#555555",
}

# The argument a label shows after the event's name.
LABEL_ARG = {
    "map": "va", "unmap": "va", "gather": "level", "sd_begin": "id",
    "ipi_send": "fn", "ipi_recv": "call", "inv_pages": "pages", "ack": "call",
    "all_acks": "id", "notify": "name", "free": "frames", "purge_begin": "areas",
    "stale_read": "va", "step": "text",
}


def x_positions(dump) -> dict:
    """tsc -> x.  Order is exact; spacing grows with the log of the gap,
    so that 100 ns and 100 us both stay readable on one page."""
    ns = 1e9 / dump.hz
    xs, x, prev = {}, LEFT + 20, None
    for tsc in sorted({e.tsc for e in dump.events}):
        if prev is not None:
            x += MIN_STEP + LOG_STEP * math.log10(1 + (tsc - prev) * ns / 10)
        xs[tsc], prev = x, tsc
    return xs


def lane_y(cpu: int) -> float:
    return TOP + cpu * LANE


def label(e) -> str:
    key = LABEL_ARG.get(e.name)
    arg = e.args.get(key) if key else None
    if isinstance(arg, int) and arg > 0xffff:
        arg = hex(arg)
    text = f"{e.name} {arg}" if arg is not None else e.name
    return text[:LABEL_CHARS]


def arrow(x1, y1, x2, y2, colour, dashed=False) -> str:
    dash = ' stroke-dasharray="4 3"' if dashed else ""
    return (f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
            f'stroke="{colour}" stroke-width="1.4"{dash} '
            f'marker-end="url(#head-{colour[1:]})"/>')


def mark(e, x, y) -> list:
    colour = COLOURS.get(e.name, "#333333")
    tip = escape(f"CPU {e.cpu} tsc {e.tsc} {e.name} " +
                 " ".join(f"{k}={v}" for k, v in e.args.items()))
    out = [f"<g><title>{tip}</title>"]
    if e.name == "free":
        out.append(f'<rect x="{x - 6:.1f}" y="{y - 6}" width="12" height="12" '
                   f'fill="{colour}" stroke="black"/>')
    elif e.name == "stale_read":
        out.append(f'<circle cx="{x:.1f}" cy="{y}" r="9" fill="{colour}" '
                   'stroke="black" stroke-width="2"/>')
    else:
        out.append(f'<circle cx="{x:.1f}" cy="{y}" r="4.5" fill="{colour}"/>')
    weight = ' font-weight="bold"' if e.name in ("free", "stale_read") else ""
    out.append(f'<text x="{x + 3:.1f}" y="{y - 10}" font-size="10"{weight} '
               f'fill="{colour}" transform="rotate(-60 {x + 3:.1f} {y - 10})">'
               f'{escape(label(e))}</text></g>')
    return out


def spans(dump, calls, sds, xs) -> list:
    """Shaded spans behind the marks: each shootdown on its CPU, each
    call's handler on its target."""
    out = []
    for sd in sds.values():
        if sd.begin and sd.frees:
            x1, x2 = xs[sd.begin.tsc], xs[sd.frees[-1].tsc]
            out.append(f'<rect x="{x1:.1f}" y="{lane_y(sd.begin.cpu) - 14}" '
                       f'width="{x2 - x1:.1f}" height="28" fill="#1f77b4" '
                       'fill-opacity="0.10"/>')
    for call in calls.values():
        for cpu, recv in call.recv.items():
            ack = call.ack.get(cpu)
            if ack:
                x1, x2 = xs[recv.tsc], xs[ack.tsc]
                out.append(f'<rect x="{x1:.1f}" y="{lane_y(cpu) - 10}" '
                           f'width="{x2 - x1:.1f}" height="20" fill="#2ca02c" '
                           'fill-opacity="0.12"/>')
    return out


def arrows(calls, sds, xs) -> list:
    """IPI arrows from the send to each receive; ack arrows back, to the
    sender's all_acks when the call was a shootdown's, else straight up."""
    seen_at = {}
    for sd in sds.values():
        for call in sd.calls:
            if sd.all_acks:
                seen_at[id(call)] = sd.all_acks
    out = []
    for call in calls.values():
        s = call.send
        for cpu, recv in call.recv.items():
            out.append(arrow(xs[s.tsc], lane_y(s.cpu), xs[recv.tsc],
                             lane_y(cpu), "#1f77b4"))
        for cpu, ack in call.ack.items():
            back = seen_at.get(id(call))
            x2 = xs[back.tsc] if back and back.tsc >= ack.tsc else xs[ack.tsc]
            out.append(arrow(xs[ack.tsc], lane_y(cpu), x2, lane_y(s.cpu),
                             "#2ca02c", dashed=True))
    return out


def time_axis(dump, xs, y) -> list:
    ns = 1e9 / dump.hz
    tscs = sorted(xs)
    out = [f'<line x1="{LEFT}" y1="{y}" x2="{xs[tscs[-1]] + 20:.1f}" y2="{y}" '
           'stroke="#999"/>']
    last = -1e9
    for tsc in tscs:
        if xs[tsc] - last >= 70:
            us = (tsc - tscs[0]) * ns / 1000
            out.append(f'<line x1="{xs[tsc]:.1f}" y1="{y}" x2="{xs[tsc]:.1f}" '
                       f'y2="{y + 5}" stroke="#999"/><text x="{xs[tsc]:.1f}" '
                       f'y="{y + 17}" font-size="10" text-anchor="middle" '
                       f'fill="#555">+{us:.1f} µs</text>')
            last = xs[tsc]
    return out


LEGEND = [
    ("#1f77b4", "IPI: send → receive (solid arrow); a shootdown's span is shaded blue"),
    ("#2ca02c", "acknowledgment → the sender (dashed); a target's handler is shaded green"),
    ("#17becf", "TLB invalidation (pages or full)"),
    ("#ff7f0e", "frames freed (square): must come after every ack"),
    ("#d62728", "stale read: a CPU used a translation it should not have (hazard)"),
]


def svg(dump, calls, sds, title: str) -> str:
    xs = x_positions(dump)
    width = (max(xs.values()) if xs else LEFT) + 260
    cpus = max(dump.cpus, 1 + max((e.cpu for e in dump.events), default=0))
    axis_y = lane_y(cpus - 1) + 40
    height = axis_y + 40 + 18 * len(LEGEND) + 30
    colours = {c for c in COLOURS.values()} | {"#1f77b4", "#2ca02c"}
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" '
           f'height="{height:.0f}" font-family="sans-serif">',
           '<defs>' + "".join(
               f'<marker id="head-{c[1:]}" markerWidth="8" markerHeight="8" '
               f'refX="7" refY="4" orient="auto"><path d="M0,0 L8,4 L0,8 z" '
               f'fill="{c}"/></marker>' for c in sorted(colours)) + '</defs>',
           f'<rect width="100%" height="100%" fill="white"/>',
           f'<text x="10" y="22" font-size="15" font-weight="bold">'
           f'{escape(title)}</text>',
           f'<text x="10" y="40" font-size="11" fill="#555">{len(dump.events)} '
           f'events on {cpus} CPUs; time runs left to right, in order, the '
           f'spacing growing with the log of each gap (axis below)</text>']
    for cpu in range(cpus):
        y = lane_y(cpu)
        out.append(f'<line x1="{LEFT}" y1="{y}" x2="{width - 20:.0f}" y2="{y}" '
                   'stroke="#ccc"/><text x="10" y="{0}" font-size="13" '
                   'font-weight="bold">CPU {1}</text>'.format(y + 4, cpu))
    out += spans(dump, calls, sds, xs)
    for e in dump.events:
        if e.name == "stale_read":
            out.append(f'<rect x="{xs[e.tsc] - 3:.1f}" y="{TOP - 30}" width="6" '
                       f'height="{axis_y - TOP + 30}" fill="#d62728" '
                       'fill-opacity="0.25"/>')
    out += arrows(calls, sds, xs)
    for e in dump.events:
        out += mark(e, xs[e.tsc], lane_y(e.cpu))
    if xs:
        out += time_axis(dump, xs, axis_y)
    for i, (colour, text) in enumerate(LEGEND):
        y = axis_y + 45 + 18 * i
        out.append(f'<rect x="10" y="{y - 9}" width="10" height="10" '
                   f'fill="{colour}"/><text x="26" y="{y}" font-size="11">'
                   f'{escape(text)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


# ---- Chrome Trace Event Format ----

DOT = 0.001          # µs: the length of a point event that a flow binds to
PID = 1


def chrome_json(dump, calls, sds) -> str:
    t0 = min((e.tsc for e in dump.events), default=0)
    us_per_cycle = 1e6 / dump.hz

    def ts(e):
        return round((e.tsc - t0) * us_per_cycle, 4)

    events = [{"name": "process_name", "ph": "M", "pid": PID, "tid": 0,
               "args": {"name": "shootdown kernel"}}]
    cpus = max(dump.cpus, 1 + max((e.cpu for e in dump.events), default=0))
    for cpu in range(cpus):
        events.append({"name": "thread_name", "ph": "M", "pid": PID, "tid": cpu,
                       "args": {"name": f"CPU {cpu}"}})
        events.append({"name": "thread_sort_index", "ph": "M", "pid": PID,
                       "tid": cpu, "args": {"sort_index": cpu}})

    def slice_(e, name, dur=DOT, **extra):
        events.append({"name": name, "ph": "X", "pid": PID, "tid": e.cpu,
                       "ts": ts(e), "dur": dur, "cat": e.name,
                       "args": {k: str(v) for k, v in e.args.items()}, **extra})

    def flow(ph, e, fid, name):
        f = {"name": name, "cat": name, "ph": ph, "id": fid, "pid": PID,
             "tid": e.cpu, "ts": ts(e)}
        if ph == "f":
            f["bp"] = "e"
        events.append(f)

    in_slices = set()
    for sd in sds.values():
        if sd.begin and sd.frees:
            end = sd.frees[-1]
            slice_(sd.begin, f"shootdown {sd.begin.args.get('id')}",
                   dur=round(ts(end) - ts(sd.begin) + 2 * DOT, 4))
    fid = 0
    seen_at = {id(c): sd.all_acks for sd in sds.values() for c in sd.calls
               if sd.all_acks}
    for call in calls.values():
        s = call.send
        slice_(s, f"ipi_send call {s.args.get('call')}")
        in_slices.add(id(s))
        for cpu, recv in call.recv.items():
            fid += 1
            ack = call.ack.get(cpu)
            dur = max(DOT, round(ts(ack) - ts(recv), 4)) if ack else DOT
            slice_(recv, f"call {s.args.get('call')} ({s.args.get('fn')})", dur=dur)
            in_slices.add(id(recv))
            flow("s", s, fid, "ipi")
            flow("f", recv, fid, "ipi")
        for cpu, ack in call.ack.items():
            fid += 1
            slice_(ack, "ack")
            in_slices.add(id(ack))
            back = seen_at.get(id(call))
            if back is None or back.tsc < ack.tsc:
                back = type(ack)(s.cpu, ack.tsc, "ack_seen", {}, ack.line)
                slice_(back, "ack seen")
            elif id(back) not in in_slices:
                slice_(back, "all_acks")
                in_slices.add(id(back))
            flow("s", ack, fid, "ack")
            flow("f", back, fid, "ack")
    for e in dump.events:
        if id(e) not in in_slices:
            events.append({"name": e.name, "ph": "i", "s": "t", "pid": PID,
                           "tid": e.cpu, "ts": ts(e), "cat": e.name,
                           "args": {k: str(v) for k, v in e.args.items()}})
    return json.dumps({"traceEvents": events, "displayTimeUnit": "ns",
                       "otherData": {"hz": dump.hz}}, indent=0) + "\n"
