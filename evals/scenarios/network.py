"""A seeded US fulfillment network for routing evals: nodes, carriers, rate cards, transit, SKUs, stock.

`generate_network(seed, nodes=22)` is pure and deterministic: the same arguments always give an equal
`Network`. Every number below is an assumption written down here and in evals/scenarios/README.md; none
was tuned to favour a routing method.

Nodes. Eight DCs at real US logistics hubs (Reno, Inland Empire, Phoenix, Dallas, Columbus, Lehigh
Valley, Atlanta, and a B2B-only wholesale DC in Indianapolis), a 3PL in Memphis, and `nodes - 9` stores
drawn (seeded) from 18 metro stores. Daily pick capacity: DCs 4,000-10,000 units, the wholesale DC
15,000, the 3PL 12,000, stores 30-200. Cutoffs: DCs 14:00-17:00 local, the 3PL 18:00, stores
13:00-15:00. Handling per shipment / per unit: DCs $2.25-3.25 / $0.20-0.40, the 3PL $3.50 / $0.45,
the wholesale DC $4.00 / $0.15, stores $4.50-6.50 / $0.80-1.40 (store labour picks slowly).
Hazmat: six of the nine DC/3PL nodes; stores never.

Carriers and transit. Three carriers with ground, expedited (2-day) and next-day service. Ground transit
by zone 2..8 is 1, 2, 3, 3, 4, 5, 5 days (the shape of the UPS/FedEx ground transit maps); the
discount carrier is a day slower in zone 5. Expedited is 2 days and next day 1 day everywhere.

Rate cards. List price per package by carrier x service x zone x billable pound (1-70 lb):
    ground(z, w) = 10.50 + 0.75 (z - 2) + (0.55 + 0.22 (z - 2)) (w - 1)
    expedited = ground x (2.0 + 0.15 (z - 2)),  next_day = ground x (3.2 + 0.30 (z - 2))
times a seeded factor per carrier and service around the carrier's level (1.00, 0.96, 0.90). This is
modelled on the *shape* of the carriers' published retail rate charts (a base that rises with zone,
a per-pound slope that is steeper in far zones, air services a zone-growing multiple of ground), not
copied from them; it lands within the same order of magnitude ($10-15 for 1 lb ground, $45-150 for
70 lb). Surcharges (fuel, residential, dimensional weight) are not modelled. Above 70 lb a shipment
is billed as several packages.

On-time probability per carrier x lane (origin node -> destination ZIP3): the carrier's level (0.975,
0.965, 0.935 for the discount carrier) less 0.006 per zone above 2 plus seeded lane noise (sd 0.008),
clipped to 0.85-0.99; expedited costs 0.005 and next day 0.010 more. The cheaper carrier being the
less reliable one is the usual trade-off in parcel procurement.

SKUs and stock. `skus` SKUs (default 300) in six categories with log-normal weights (median 0.4-6 lb),
hazmat shares from 0 (apparel) to 20% (electronics: lithium batteries), seasonal (markdown-risk) shares
up to 30%, and case packs of 4-24. Popularity is Zipf (s = 1) over a seeded ranking, so the top fifth
of SKUs make about three quarters of demand (the usual 80/20). Stock is days of cover of the expected
demand (`daily_units`, default 55,000: the mean units of `generate_day(orders=5000)` over seeds 0-4,
about 80% of them B2B cases): DCs carry 90% of the catalog at
4-12 days of their share, the 3PL half at 3-10 days, the wholesale DC 60% in whole cases, stores 35%
at 1-60 units; 5% of carried positions are out of stock; hazmat only at hazmat-capable nodes.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import time

from engine.domain.geo import MAX_ZONE, MIN_ZONE, ZIP3_REGIONS, Zip3Region, great_circle_miles, zone_for
from engine.domain.network import ServiceLevel

MAX_PACKAGE_LB = 70
ZONES = tuple(range(MIN_ZONE, MAX_ZONE + 1))


@dataclass(frozen=True)
class Node:
    """One fulfillment node: where it is, what it can pick today, and what a shipment from it costs."""

    code: str
    name: str
    kind: str  # "dc", "store" or "3pl"
    city: str
    state: str
    zip3: str
    latitude: float
    longitude: float
    timezone: str
    daily_pick_capacity: int
    cutoff_local: time
    handling_per_shipment: float
    handling_per_unit: float
    hazmat_capable: bool
    b2b_only: bool


@dataclass(frozen=True)
class Carrier:
    code: str
    name: str
    services: tuple[ServiceLevel, ...]
    price_level: float
    on_time_level: float


@dataclass(frozen=True)
class Sku:
    code: str
    category: str
    weight_lb: float
    hazmat: bool
    markdown_risk: bool  # seasonal stock that loses value if it stays
    case_pack: int
    popularity: float  # Zipf weight, relative


@dataclass(frozen=True)
class Network:
    """A generated network; look-ups are methods so that evals and routers read it the same way."""

    seed: int
    nodes: tuple[Node, ...]
    carriers: tuple[Carrier, ...]
    skus: tuple[Sku, ...]
    regions: tuple[Zip3Region, ...]
    rates: dict[tuple[str, ServiceLevel, int, int], float]  # (carrier, service, zone, billable lb) -> USD
    transit: dict[tuple[str, ServiceLevel, int], int]  # (carrier, service, zone) -> days
    lane_on_time: dict[tuple[str, str, str], float]  # (carrier, node, ZIP3) -> ground on-time probability
    zones: dict[tuple[str, str], int]  # (node, ZIP3) -> zone
    stock: dict[tuple[str, str], int]  # (SKU, node) -> units on hand
    daily_units: int

    def node(self, code: str) -> Node:
        return next(n for n in self.nodes if n.code == code)

    def zone(self, node: str, zip3: str) -> int:
        return self.zones[(node, zip3)]

    def rate(self, carrier: str, service: ServiceLevel, zone: int, weight_lb: float) -> float:
        """The list price of one shipment; heavier than 70 lb ships as several 70 lb packages and a rest."""
        billable = max(1, math.ceil(weight_lb - 1e-9))
        full, rest = divmod(billable, MAX_PACKAGE_LB)
        cost = full * self.rates[(carrier, service, zone, MAX_PACKAGE_LB)]
        if rest:
            cost += self.rates[(carrier, service, zone, rest)]
        return round(cost, 2)

    def on_time(self, carrier: str, service: ServiceLevel, node: str, zip3: str) -> float:
        return round(self.lane_on_time[(carrier, node, zip3)] - SERVICE_ON_TIME_PENALTY[service], 4)


# -- the node candidates ---------------------------------------------------------------------------

@dataclass(frozen=True)
class _Site:
    code: str
    name: str
    kind: str
    city: str
    state: str
    zip3: str
    latitude: float
    longitude: float
    timezone: str
    hazmat: bool = False
    b2b_only: bool = False


_LA, _DEN, _PHX = "America/Los_Angeles", "America/Denver", "America/Phoenix"
_CHI, _NY = "America/Chicago", "America/New_York"
HUBS: tuple[_Site, ...] = (
    _Site("DC-RNO", "Reno DC", "dc", "Reno", "NV", "895", 39.5296, -119.8138, _LA, hazmat=True),
    _Site("DC-ONT", "Inland Empire DC", "dc", "Ontario", "CA", "917", 34.0633, -117.6509, _LA),
    _Site("DC-PHX", "Phoenix West Valley DC", "dc", "Goodyear", "AZ", "853", 33.4353, -112.3577, _PHX, hazmat=True),
    _Site("DC-DFW", "Dallas DC", "dc", "Dallas", "TX", "752", 32.6729, -96.7725, _CHI, hazmat=True),
    _Site("DC-CMH", "Columbus DC", "dc", "Columbus", "OH", "432", 39.8142, -82.9296, _NY, hazmat=True),
    _Site("DC-ABE", "Lehigh Valley DC", "dc", "Allentown", "PA", "181", 40.5652, -75.5788, _NY),
    _Site("DC-ATL", "Atlanta DC", "dc", "Atlanta", "GA", "303", 33.7385, -84.5614, _NY),
    _Site("DC-IND", "Indianapolis Wholesale DC", "dc", "Indianapolis", "IN", "462", 39.7209, -86.2844,
          "America/Indiana/Indianapolis", hazmat=True, b2b_only=True),
    _Site("3PL-MEM", "Memphis 3PL", "3pl", "Memphis", "TN", "381", 35.0420, -89.9301, _CHI, hazmat=True),
)
STORES: tuple[_Site, ...] = (
    _Site("ST-SEA", "Seattle store", "store", "Seattle", "WA", "981", 47.6097, -122.3375, _LA),
    _Site("ST-PDX", "Portland store", "store", "Portland", "OR", "970", 45.5190, -122.6790, _LA),
    _Site("ST-SFO", "San Francisco store", "store", "San Francisco", "CA", "941", 37.7870, -122.4075, _LA),
    _Site("ST-LAX", "Los Angeles store", "store", "Los Angeles", "CA", "900", 34.0697, -118.3496, _LA),
    _Site("ST-SAN", "San Diego store", "store", "San Diego", "CA", "921", 32.7157, -117.1611, _LA),
    _Site("ST-SCO", "Scottsdale store", "store", "Scottsdale", "AZ", "852", 33.4942, -111.9261, _PHX),
    _Site("ST-DEN", "Denver store", "store", "Denver", "CO", "802", 39.7392, -104.9903, _DEN),
    _Site("ST-HOU", "Houston store", "store", "Houston", "TX", "770", 29.7390, -95.4630, _CHI),
    _Site("ST-AUS", "Austin store", "store", "Austin", "TX", "787", 30.2672, -97.7431, _CHI),
    _Site("ST-CHI", "Chicago store", "store", "Chicago", "IL", "606", 41.8948, -87.6240, _CHI),
    _Site("ST-MSP", "Minneapolis store", "store", "Minneapolis", "MN", "554", 44.9778, -93.2650, _CHI),
    _Site("ST-NSH", "Nashville store", "store", "Nashville", "TN", "372", 36.1627, -86.7816, _CHI),
    _Site("ST-DTW", "Detroit store", "store", "Detroit", "MI", "482", 42.3314, -83.0458, "America/Detroit"),
    _Site("ST-BOS", "Boston store", "store", "Boston", "MA", "021", 42.3505, -71.0760, _NY),
    _Site("ST-BKN", "Brooklyn store", "store", "Brooklyn", "NY", "112", 40.7146, -73.9560, _NY),
    _Site("ST-PHL", "Philadelphia store", "store", "Philadelphia", "PA", "191", 39.9500, -75.1667, _NY),
    _Site("ST-DCA", "Washington store", "store", "Washington", "DC", "200", 38.9047, -77.0316, _NY),
    _Site("ST-MIA", "Miami store", "store", "Miami", "FL", "331", 25.7743, -80.1937, _NY),
)
MIN_NODES, MAX_NODES = len(HUBS) + 1, len(HUBS) + len(STORES)


def _node(site: _Site, rng: random.Random) -> Node:
    if site.kind == "store":
        capacity, cutoff = rng.randint(30, 200), time(rng.choice((13, 14, 15)), 0)
        per_shipment, per_unit = rng.uniform(4.50, 6.50), rng.uniform(0.80, 1.40)
    elif site.kind == "3pl":
        capacity, cutoff, per_shipment, per_unit = 12_000, time(18, 0), 3.50, 0.45
    elif site.b2b_only:
        capacity, cutoff, per_shipment, per_unit = 15_000, time(14, 0), 4.00, 0.15
    else:
        capacity, cutoff = rng.randrange(4_000, 10_001, 500), time(rng.choice((14, 15, 16, 17)), 0)
        per_shipment, per_unit = rng.uniform(2.25, 3.25), rng.uniform(0.20, 0.40)
    return Node(site.code, site.name, site.kind, site.city, site.state, site.zip3, site.latitude, site.longitude,
                site.timezone, capacity, cutoff, round(per_shipment, 2), round(per_unit, 2), site.hazmat,
                site.b2b_only)


# -- carriers, rates, transit, reliability ---------------------------------------------------------

CARRIERS: tuple[tuple[str, str, float, float], ...] = (
    ("NPX", "National Parcel Express", 1.00, 0.975),
    ("SWF", "Swiftway Logistics", 0.96, 0.965),
    ("RDG", "Ridgeline Parcel", 0.90, 0.935),  # the discount carrier: cheaper, less reliable, slower
)
SERVICES = (ServiceLevel.GROUND, ServiceLevel.EXPEDITED, ServiceLevel.NEXT_DAY)
GROUND_TRANSIT = {2: 1, 3: 2, 4: 3, 5: 3, 6: 4, 7: 5, 8: 5}
SLOW_GROUND_TRANSIT = {**GROUND_TRANSIT, 5: 4}
SERVICE_ON_TIME_PENALTY = {ServiceLevel.GROUND: 0.0, ServiceLevel.EXPEDITED: 0.005, ServiceLevel.NEXT_DAY: 0.010}


def ground_list_rate(zone: int, weight_lb: int) -> float:
    """The modelled ground list price before the carrier factor (see the module docstring)."""
    return 10.50 + 0.75 * (zone - 2) + (0.55 + 0.22 * (zone - 2)) * (weight_lb - 1)


def service_multiplier(service: ServiceLevel, zone: int) -> float:
    if service == ServiceLevel.EXPEDITED:
        return 2.0 + 0.15 * (zone - 2)
    if service == ServiceLevel.NEXT_DAY:
        return 3.2 + 0.30 * (zone - 2)
    return 1.0


def _rates(carriers: tuple[Carrier, ...], rng: random.Random) -> dict[tuple[str, ServiceLevel, int, int], float]:
    rates: dict[tuple[str, ServiceLevel, int, int], float] = {}
    for carrier in carriers:
        for service in SERVICES:
            factor = carrier.price_level * rng.uniform(0.97, 1.03)
            for zone in ZONES:
                for weight in range(1, MAX_PACKAGE_LB + 1):
                    price = ground_list_rate(zone, weight) * service_multiplier(service, zone) * factor
                    rates[(carrier.code, service, zone, weight)] = round(price, 2)
    return rates


def _transit(carriers: tuple[Carrier, ...]) -> dict[tuple[str, ServiceLevel, int], int]:
    transit: dict[tuple[str, ServiceLevel, int], int] = {}
    for carrier in carriers:
        ground = SLOW_GROUND_TRANSIT if carrier.code == "RDG" else GROUND_TRANSIT
        for zone in ZONES:
            transit[(carrier.code, ServiceLevel.GROUND, zone)] = ground[zone]
            transit[(carrier.code, ServiceLevel.EXPEDITED, zone)] = 2
            transit[(carrier.code, ServiceLevel.NEXT_DAY, zone)] = 1
    return transit


# -- SKUs and stock --------------------------------------------------------------------------------

# name, catalog share, median weight (lb), log-sd, hazmat share, seasonal share, case pack
CATEGORIES: tuple[tuple[str, float, float, float, float, float, int], ...] = (
    ("apparel", 0.30, 0.6, 0.5, 0.00, 0.25, 12),
    ("home", 0.20, 3.0, 0.8, 0.02, 0.10, 6),
    ("electronics", 0.15, 0.8, 0.9, 0.20, 0.05, 12),
    ("beauty", 0.12, 0.4, 0.5, 0.15, 0.05, 24),
    ("outdoor", 0.13, 2.5, 1.0, 0.10, 0.30, 6),
    ("household", 0.10, 6.0, 0.7, 0.12, 0.00, 4),
)
ZIPF_S = 1.0


def _skus(count: int, rng: random.Random) -> tuple[Sku, ...]:
    ranks = list(range(1, count + 1))
    rng.shuffle(ranks)
    names = [c[0] for c in CATEGORIES]
    shares = [c[1] for c in CATEGORIES]
    out = []
    for i, rank in enumerate(ranks, 1):
        name = rng.choices(names, weights=shares)[0]
        _, _, median, sd, hazmat, seasonal, case = CATEGORIES[names.index(name)]
        weight = min(60.0, max(0.1, rng.lognormvariate(math.log(median), sd)))
        out.append(Sku(f"SKU-{i:04d}", name, round(weight, 2), rng.random() < hazmat, rng.random() < seasonal,
                       case, round(1.0 / rank**ZIPF_S, 6)))
    return tuple(out)


def _stock(nodes: tuple[Node, ...], skus: tuple[Sku, ...], daily_units: int,
           rng: random.Random) -> dict[tuple[str, str], int]:
    total = sum(s.popularity for s in skus)
    b2c_bulk = sum(1 for n in nodes if n.kind in ("dc", "3pl") and not n.b2b_only)
    stock: dict[tuple[str, str], int] = {}
    for sku in skus:
        demand = daily_units * sku.popularity / total  # expected units a day, network-wide
        for node in nodes:
            if sku.hazmat and not node.hazmat_capable:
                continue
            if node.kind == "store":
                carried, qty = 0.35, max(1, min(60, round(demand * 0.02 * rng.uniform(0.5, 2.0))))
            elif node.kind == "3pl":
                carried, qty = 0.5, max(1, round(demand / b2c_bulk * rng.uniform(3, 10)))
            elif node.b2b_only:
                cases = max(1, round(demand * 0.3 * rng.uniform(5, 15) / sku.case_pack))
                carried, qty = 0.6, cases * sku.case_pack
            else:
                carried, qty = 0.9, max(2, round(demand / b2c_bulk * rng.uniform(4, 12)))
            if rng.random() >= carried:
                continue
            if rng.random() < 0.05:
                qty = 0  # carried but out of stock today
            stock[(sku.code, node.code)] = qty
    return stock


def generate_network(seed: int, nodes: int = 22, skus: int = 300, daily_units: int = 55_000) -> Network:
    """A seeded network of `nodes` fulfillment nodes (9 DC/3PL hubs plus stores) and `skus` SKUs."""
    if not MIN_NODES <= nodes <= MAX_NODES:
        raise ValueError(f"nodes must be between {MIN_NODES} and {MAX_NODES}")
    rng = random.Random(f"orderloom-scenarios:{seed}:network")
    stores = sorted(rng.sample(STORES, nodes - len(HUBS)), key=lambda s: s.code)
    built = tuple(_node(site, rng) for site in (*HUBS, *stores))
    carriers = tuple(Carrier(code, name, SERVICES, price, on_time) for code, name, price, on_time in CARRIERS)
    rates = _rates(carriers, rng)
    zones: dict[tuple[str, str], int] = {}
    lane_on_time: dict[tuple[str, str, str], float] = {}
    for n in built:
        for r in ZIP3_REGIONS:
            zones[(n.code, r.prefix)] = zone_for(great_circle_miles(n.latitude, n.longitude, r.latitude, r.longitude))
    for carrier in carriers:
        for n in built:
            for r in ZIP3_REGIONS:
                p = carrier.on_time_level - 0.006 * (zones[(n.code, r.prefix)] - 2) + rng.gauss(0, 0.008)
                lane_on_time[(carrier.code, n.code, r.prefix)] = round(min(0.99, max(0.85, p)), 4)
    catalog = _skus(skus, rng)
    return Network(seed, built, carriers, catalog, ZIP3_REGIONS, rates, _transit(carriers), lane_on_time, zones,
                   _stock(built, catalog, daily_units, rng), daily_units)

