"""The reference graph as a static SVG: the centre resource (the Patient) in the middle, the
others on concentric rings by their distance from it, drawn once in Python so the browser only
paints it.

Hand-written: a radial layout of a few dozen to a few thousand nodes is some forty lines, while
the graph libraries that lay out graphs (Graphviz, networkx + matplotlib) are large native or
plotting dependencies that would also not give the Patient-centred rings a reader expects.
"""

from __future__ import annotations

import math
from collections import deque
from html import escape

from fhir_adapter.report.model import Card, centre

NODE_R = 13
#: arc length per node on a ring, room for its two-line label
SPACING = 124.0
RING_STEP = 120.0
#: above this many nodes a depth spills over several rings
MAX_PER_RING = 40
#: rings up to this many nodes are reordered for short edges (larger ones keep the clusters)
SMOOTH_MAX = 200

#: colours by resource type (others get a stable colour from their name)
COLOURS = {
    "Patient": "#1f6feb",
    "Condition": "#d1242f",
    "Observation": "#1a7f37",
    "DiagnosticReport": "#8250df",
    "ImagingStudy": "#bf8700",
    "MedicationStatement": "#cf4a9b",
    "MedicationRequest": "#cf4a9b",
    "Procedure": "#0b7a75",
    "Encounter": "#57606a",
    "AllergyIntolerance": "#bc4c00",
    "Specimen": "#6e7781",
    "Composition": "#0550ae",
}
_PALETTE = ("#0969da", "#2da44e", "#a475f9", "#e16f24", "#bf3989", "#4d7c8a", "#9a6700")


def colour(resource_type: str) -> str:
    """The fill colour used for a resource type in the graph and on cards."""
    if resource_type in COLOURS:
        return COLOURS[resource_type]
    return _PALETTE[sum(map(ord, resource_type)) % len(_PALETTE)]


def layout(cards: list[Card]) -> dict[int, tuple[float, float]]:
    """Positions (x, y) around (0, 0): breadth-first rings out from the centre card, each ring
    ordered by the angle of the nodes it hangs from, then by type and title."""
    if not cards:
        return {}
    c = centre(cards)
    assert c is not None
    adj: dict[int, set[int]] = {card.index: set() for card in cards}
    for card in cards:
        for r in card.refs:
            if r.target is not None and r.target != card.index:
                adj[card.index].add(r.target)
                adj[r.target].add(card.index)
    depth = {c: 0}
    queue = deque([c])
    while queue:
        n = queue.popleft()
        for m in sorted(adj[n]):
            if m not in depth:
                depth[m] = depth[n] + 1
                queue.append(m)
    far = max(depth.values(), default=0) + 1
    levels: dict[int, list[int]] = {}
    for card in cards:
        levels.setdefault(depth.get(card.index, far), []).append(card.index)
    type_rank: dict[str, int] = {}
    for card in cards:
        type_rank.setdefault(card.resource_type, len(type_rank))
    pos: dict[int, tuple[float, float]] = {c: (0.0, 0.0)}
    angle: dict[int, float] = {c: 0.0}
    radius = 0.0
    for level in sorted(k for k in levels if k > 0):

        def key(i: int, level: int = level) -> tuple[float, int, str]:
            # the circular mean of the angles of the nodes it hangs from (inner rings only)
            parents = [angle[p] for p in adj[i] if p in angle] if level > 1 else []
            a = 0.0
            if parents:
                mean = math.atan2(sum(map(math.sin, parents)), sum(map(math.cos, parents)))
                a = mean % (2 * math.pi)
            card = cards[i]
            return (a, type_rank[card.resource_type], card.title)

        nodes = _clustered(sorted(levels[level], key=key), adj)
        while nodes:
            radius = radius + RING_STEP if radius else RING_STEP * 1.25
            fits = max(int(2 * math.pi * radius / SPACING), 1)
            if len(nodes) <= MAX_PER_RING:
                radius = max(radius, len(nodes) * SPACING / (2 * math.pi))
                fits = len(nodes)
            ring, nodes = nodes[:fits], nodes[fits:]
            for k, i in enumerate(ring):
                a = 2 * math.pi * k / len(ring) - math.pi / 2
                angle[i] = a % (2 * math.pi)
                pos[i] = (radius * math.cos(a), radius * math.sin(a))
    return pos


def _clustered(nodes: list[int], adj: dict[int, set[int]]) -> list[int]:
    """The ring's order with each hub (a node referring to others on the same ring, such as a
    report and its results) in the middle of its neighbours, so that their edges stay short."""
    on_ring = set(nodes)
    rank = {n: k for k, n in enumerate(nodes)}
    placed: set[int] = set()
    out: list[int] = []
    hubs = sorted(nodes, key=lambda n: (-len(adj[n] & on_ring), rank[n]))
    for hub in hubs:
        if hub in placed or not adj[hub] & on_ring:
            continue
        group = sorted((adj[hub] & on_ring) - placed, key=rank.__getitem__)
        half = len(group) // 2
        cluster = [*group[:half], hub, *group[half:]]
        placed.update(cluster)
        out.extend(cluster)
    out.extend(n for n in nodes if n not in placed)
    return _smoothed(out, adj)


def _ring_cost(order: list[int], adj: dict[int, set[int]]) -> int:
    """Total length, in steps around the ring, of the edges between nodes of the ring."""
    n = len(order)
    at = {v: k for k, v in enumerate(order)}
    total = 0
    for v, k in at.items():
        for u in adj[v]:
            if u in at and u > v:
                d = abs(at[u] - k)
                total += min(d, n - d)
    return total


def _smoothed(order: list[int], adj: dict[int, set[int]], rounds: int = 12) -> list[int]:
    """Shorter edges around the ring: each node moves towards the circular mean of itself and
    its neighbours on the ring, repeated; the shortest order seen is kept."""
    n = len(order)
    on_ring = set(order)
    if not 4 <= n <= SMOOTH_MAX or not any(adj[v] & on_ring for v in order):
        return order
    best, best_cost = order, _ring_cost(order, adj)
    current = order
    for _ in range(rounds):
        angle = {v: 2 * math.pi * k / n for k, v in enumerate(current)}

        def target(v: int, angle: dict[int, float] = angle) -> float:
            around = [angle[v], *(angle[u] for u in adj[v] & on_ring)]
            mean = math.atan2(sum(map(math.sin, around)), sum(map(math.cos, around)))
            return mean % (2 * math.pi)

        current = sorted(current, key=target)
        cost = _ring_cost(current, adj)
        if cost < best_cost:
            best, best_cost = current, cost
    return best


def _short(text: str, n: int = 18) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def svg(cards: list[Card], severities: dict[int, str]) -> str:
    """The graph: one ``g.node`` per card, one ``path.edge`` per reference between cards.

    ``severities`` maps a card index to its worst issue severity (rings the node in colour).
    """
    pos = layout(cards)
    if not pos:
        return ""
    pad = 90.0
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    x0, y0 = min(xs) - pad, min(ys) - pad
    w, h = max(xs) - min(xs) + 2 * pad, max(ys) - min(ys) + 2 * pad
    out = [
        f'<svg id="graph" xmlns="http://www.w3.org/2000/svg" viewBox="{x0:.0f} {y0:.0f} {w:.0f} {h:.0f}" '
        f'width="{w:.0f}" height="{h:.0f}" role="img" aria-label="References between the resources">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#8c959f"/>'
        "</marker></defs>",
        '<g class="edges">',
    ]
    labels = [escape(c.label) for c in cards]
    for card in cards:
        rtype = escape(card.resource_type)
        for r in card.refs:
            if r.target is None or r.target == card.index:
                continue
            (ax, ay), (bx, by) = pos[card.index], pos[r.target]
            dx, dy = bx - ax, by - ay
            d = math.hypot(dx, dy) or 1.0
            sx, sy = ax + dx / d * NODE_R, ay + dy / d * NODE_R
            ex, ey = bx - dx / d * (NODE_R + 2), by - dy / d * (NODE_R + 2)
            # bend every edge a little (towards the centre for neighbours on one ring) so that
            # edges in both directions between two nodes stay apart
            cx, cy = (sx + ex) / 2 - dy * 0.08, (sy + ey) / 2 + dx * 0.08
            out.append(
                f'<path class="edge" data-from="c{card.index}" data-to="c{r.target}" '
                f'd="M{sx:.0f},{sy:.0f}Q{cx:.0f},{cy:.0f} {ex:.0f},{ey:.0f}" marker-end="url(#arrow)">'
                f"<title>{rtype}.{escape(r.path)} → {labels[r.target]}</title></path>"
            )
    out.append('</g><g class="nodes">')
    for card in cards:
        x, y = pos[card.index]
        sev = severities.get(card.index)
        ring = f' class="sev-{sev}"' if sev else ""
        out.append(
            f'<g class="node" id="n{card.index}" data-card="{card.anchor}" data-type="{escape(card.resource_type)}" '
            f'transform="translate({x:.1f},{y:.1f})"><a href="#{card.anchor}">'
            f"<title>{escape(card.label)}: {escape(card.title)}</title>"
            f'<circle r="{NODE_R}" fill="{colour(card.resource_type)}"{ring}/>'
            f'<text y="{NODE_R + 13}">{escape(_short(card.resource_type))}</text>'
            f'<text y="{NODE_R + 26}" class="sub">{escape(_short(card.title))}</text></a></g>'
        )
    out.append("</g></svg>")
    return "".join(out)
