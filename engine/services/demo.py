"""A seeded, deterministic demo network, applied through the message bus as ordinary commands.

`demo_plan(seed)` builds the commands (pure: the same seed always gives the same catalog, network and
stock plan); `seed_demo(bus, seed)` sends them. The network: 11 US fulfillment nodes (5 DCs, a
b2b-only wholesale DC, 4 stores, a 3PL), 520 SKUs from category templates, the six channels, three
carriers with lanes from every node to 116 ZIP3 regions (with on-time rates), published-style rate
cards per carrier service and zone, the active routing policy "balanced", 14 B2B accounts with tiered price lists,
100 customers, opening stock with safety stock, protected B2B units and a marketplace flash-sale cap.

Running it again changes nothing:
- every command carries an idempotency key `demo:<version>:<seed>:...`, so a repeated command is
  answered from the idempotency store without touching state or writing events;
- when the plan's last command is already stored the whole run is skipped (`already_seeded`);
- opening receipts are sent only for (SKU, node) positions that have no balance row yet, so stock is
  never doubled, even by another seed or after stock was received by hand: seeding tops up only
  positions that do not exist;
- channel caps are set only where the channel has no cap for the SKU (their window is relative to
  the time of seeding, so their payload is not repeatable).
A second seed on a seeded database rewrites the master data it shares (same SKU codes, new names).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import random
import time as clock
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from engine.domain import commands as c
from engine.domain.catalog import Substitute
from engine.domain.channels import ChannelKind
from engine.domain.customers import Tier
from engine.domain.geo import PRINCIPAL_ZIP3, great_circle_miles, zone_for
from engine.domain.network import NodeType, ServiceLevel
from engine.intake.address_zipdb import ZipEntry, get_zip_database
from engine.services.messagebus import MessageBus, request_hash

# Bump when the generator changes, so that old databases do not see reused idempotency keys.
DEMO_VERSION = "v2"
CENT = Decimal("0.01")

Progress = Callable[[str, int, int], None]


# -- the network -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Node:
    code: str
    name: str
    node_type: NodeType
    city: str
    state: str
    postal_code: str
    latitude: float
    longitude: float
    timezone: str
    pick_capacity: int
    cutoff: time
    hazmat: bool
    b2b_only: bool
    handling_cost: str
    depth: float  # how deep this node stocks, relative to a typical DC
    breadth: float  # the share of the catalog it carries


_W, _S, _3 = NodeType.WAREHOUSE, NodeType.STORE, NodeType.THIRD_PARTY
NODES: tuple[_Node, ...] = (
    _Node("DC-RNO", "Reno Distribution Center", _W, "Reno", "NV", "89502", 39.5296, -119.8138,
          "America/Los_Angeles", 12000, time(15, 0), True, False, "1.45", 1.0, 0.85),
    _Node("DC-DAL", "Dallas Distribution Center", _W, "Dallas", "TX", "75241", 32.6729, -96.7725,
          "America/Chicago", 15000, time(16, 0), True, False, "1.35", 1.1, 0.85),
    _Node("DC-CMH", "Columbus Distribution Center", _W, "Columbus", "OH", "43217", 39.8142, -82.9296,
          "America/New_York", 18000, time(17, 0), True, False, "1.30", 1.3, 0.88),
    _Node("DC-ABE", "Allentown Distribution Center", _W, "Allentown", "PA", "18106", 40.5652, -75.5788,
          "America/New_York", 14000, time(16, 0), False, False, "1.55", 0.9, 0.82),
    _Node("DC-ATL", "Atlanta Distribution Center", _W, "Atlanta", "GA", "30336", 33.7385, -84.5614,
          "America/New_York", 11000, time(15, 30), True, False, "1.40", 0.8, 0.80),
    _Node("DC-IND", "Indianapolis Wholesale Center", _W, "Indianapolis", "IN", "46241", 39.7209, -86.2844,
          "America/Indiana/Indianapolis", 8000, time(14, 0), True, True, "1.10", 1.5, 0.55),
    _Node("ST-SEA", "Seattle Pike Street Store", _S, "Seattle", "WA", "98101", 47.6097, -122.3375,
          "America/Los_Angeles", 300, time(14, 0), False, False, "3.25", 0.08, 0.30),
    _Node("ST-CHI", "Chicago Michigan Avenue Store", _S, "Chicago", "IL", "60611", 41.8948, -87.6240,
          "America/Chicago", 350, time(14, 0), False, False, "3.10", 0.08, 0.32),
    _Node("ST-BKN", "Brooklyn Williamsburg Store", _S, "Brooklyn", "NY", "11211", 40.7146, -73.9560,
          "America/New_York", 250, time(13, 30), False, False, "3.40", 0.07, 0.28),
    _Node("ST-LAX", "Los Angeles Fairfax Store", _S, "Los Angeles", "CA", "90036", 34.0697, -118.3496,
          "America/Los_Angeles", 320, time(14, 0), False, False, "3.20", 0.08, 0.30),
    _Node("3PL-MEM", "Memphis 3PL (Bluff City Logistics)", _3, "Memphis", "TN", "38118", 35.0420, -89.9301,
          "America/Chicago", 20000, time(18, 0), True, False, "2.10", 0.7, 0.50),
)

CHANNELS: tuple[tuple[str, str, ChannelKind, bool], ...] = (
    ("web", "Web store", ChannelKind.WEB, False),
    ("marketplace", "Marketplace", ChannelKind.MARKETPLACE, False),
    ("pos", "Stores (point of sale)", ChannelKind.POS, False),
    ("mobile", "Mobile app", ChannelKind.MOBILE, False),
    ("b2b_edi", "B2B EDI (X12 850 / EDIFACT ORDERS)", ChannelKind.B2B_EDI, True),
    ("email", "B2B email orders", ChannelKind.EMAIL, True),
)

# Transit days by zone for each carrier's ground service; expedited and next-day derive from the zone.
CARRIERS: tuple[tuple[str, str, dict[int, int]], ...] = (
    ("NPX", "National Parcel Express", {2: 1, 3: 2, 4: 3, 5: 3, 6: 4, 7: 5, 8: 5}),
    ("SWF", "Swiftway Logistics", {2: 1, 3: 2, 4: 2, 5: 3, 6: 4, 7: 4, 8: 5}),
    ("RDG", "Ridgeline Parcel", {2: 1, 3: 2, 4: 3, 5: 4, 6: 5, 7: 6, 8: 6}),
)

# Destination regions: (ZIP3, main city, state, latitude, longitude), the principal contiguous-US regions.
ZIP3: tuple[tuple[str, str, str, float, float], ...] = tuple(
    (r.prefix, r.city, r.state, r.latitude, r.longitude) for r in PRINCIPAL_ZIP3)


# Price level and on-time level per carrier: a national carrier, a slightly cheaper one, and a discount
# carrier that is cheaper, slower and less reliable (the usual trade-off; see evals/scenarios/README.md).
CARRIER_LEVELS: dict[str, tuple[float, float]] = {"NPX": (1.00, 0.975), "SWF": (0.96, 0.965), "RDG": (0.90, 0.935)}
KG_PER_LB = Decimal("0.45359237")
MAX_PACKAGE_LB = 70
ZONES = range(2, 9)

# The policy routing starts with: cost first, a split costs $3, a late shipment $20 of expected cost,
# markdown credit counted, and $5 for taking a node's whole remaining pick capacity.
DEMO_POLICY_WEIGHTS = {"shipping_cost": 1.0, "handling_cost": 1.0, "split_penalty": 3.0, "sla_risk": 20.0,
                       "markdown_credit": 1.0, "capacity_balance": 5.0}


def list_rate(service: ServiceLevel, zone: int, pounds: int) -> float:
    """Published-style list rate in USD for a billable weight in whole pounds (evals/scenarios/README.md)."""
    ground = 10.50 + 0.75 * (zone - 2) + (0.55 + 0.22 * (zone - 2)) * (pounds - 1)
    if service == ServiceLevel.EXPEDITED:
        return ground * (2.0 + 0.15 * (zone - 2))
    if service == ServiceLevel.NEXT_DAY:
        return ground * (3.2 + 0.30 * (zone - 2))
    return ground


def rate_card(carrier: str, service: ServiceLevel, zone: int) -> c.SetRateCard:
    """One bracket per billable pound up to 70 lb; beyond it the 70 lb price per kilogram, per started kg."""
    level = CARRIER_LEVELS[carrier][0]
    brackets = tuple(((KG_PER_LB * lb).quantize(Decimal("0.001")),
                      Decimal(str(list_rate(service, zone, lb) * level)).quantize(CENT, ROUND_HALF_UP))
                     for lb in range(1, MAX_PACKAGE_LB + 1))
    per_kg = (brackets[-1][1] / (KG_PER_LB * MAX_PACKAGE_LB)).quantize(CENT, ROUND_HALF_UP)
    return c.SetRateCard(carrier=carrier, service=service.value, zone=zone, brackets=brackets,
                         price_per_kg_beyond=per_kg)


def lane_on_time(carrier: str, service: ServiceLevel, zone: int) -> float:
    level = CARRIER_LEVELS[carrier][1] - 0.006 * (zone - 2)
    level -= {ServiceLevel.EXPEDITED: 0.005, ServiceLevel.NEXT_DAY: 0.010}.get(service, 0.0)
    return round(min(0.99, max(0.85, level)), 4)


def transit_days(ground: dict[int, int], service: ServiceLevel, zone: int) -> int:
    if service == ServiceLevel.NEXT_DAY:
        return 1
    if service == ServiceLevel.EXPEDITED:
        return 1 if zone <= 3 else (2 if zone <= 7 else min(3, ground[zone]))
    return ground[zone]


# -- the catalog -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Family:
    product: str
    price: tuple[float, float]  # list price range of the first size
    weight: tuple[float, float]  # kg, first size
    colors: tuple[str, ...] = ("",)
    sizes: tuple[str, ...] = ("",)
    size_step: float = 0.0  # price and weight grow by this share per size up the ladder
    materials: tuple[str, ...] = ()
    hazmat: str = ""  # the dangerous-goods description when the item is hazmat
    color_label: str = "color"
    max_colors: int = 3


@dataclass(frozen=True)
class _Category:
    prefix: str
    name: str
    count: int
    velocity: float  # typical DC depth in units
    brands: tuple[str, ...]
    substitute_range: tuple[str, str]
    families: tuple[_Family, ...]
    brands_per_family: int = 1  # several brands of one product make natural substitutes


_F = _Family
_TOPS = ("XS", "S", "M", "L", "XL", "XXL")
CATEGORIES: tuple[_Category, ...] = (
    _Category("APP", "apparel", 140, 60, ("Northwind", "Harbor & Pine", "Kestrel Supply", "Common Thread"),
              ("0.95", "1.05"), (
        _F("Crew Neck Tee", (14, 28), (0.18, 0.22), ("Black", "White", "Heather Grey", "Navy", "Olive", "Rust"),
           _TOPS, 0.0, ("100% organic cotton", "cotton/polyester jersey"), max_colors=6),
        _F("Merino Crew Sweater", (68, 120), (0.35, 0.42), ("Charcoal", "Oatmeal", "Forest", "Navy"),
           _TOPS[1:5], 0.0, ("merino wool",), max_colors=4),
        _F("Slim Chino", (48, 78), (0.50, 0.60), ("Khaki", "Navy", "Stone", "Black"),
           ("28", "30", "32", "34", "36", "38"), 0.0, ("stretch cotton twill",), max_colors=4),
        _F("Packable Rain Jacket", (79, 149), (0.30, 0.38), ("Signal Red", "Black", "Teal"),
           _TOPS[1:5], 0.0, ("recycled nylon ripstop",)),
        _F("Fleece Hoodie", (45, 70), (0.55, 0.70), ("Heather Grey", "Navy", "Moss"), _TOPS, 0.0,
           ("recycled polyester fleece",)),
        _F("Oxford Button-Down Shirt", (39, 65), (0.28, 0.33), ("White", "Light Blue", "Pink Stripe"),
           _TOPS[1:5], 0.0, ("cotton oxford",)),
        _F("Running Shorts", (25, 40), (0.10, 0.14), ("Black", "Cobalt", "Volt"), _TOPS[:5], 0.0,
           ("polyester/elastane",)),
        _F("Quilted Puffer Vest", (69, 98), (0.30, 0.36), ("Black", "Navy", "Clay"), _TOPS[1:5], 0.0,
           ("recycled polyester insulation",)),
        _F("Hiking Socks 2-Pack", (16, 24), (0.10, 0.13), ("Charcoal", "Olive"), ("S", "M", "L"), 0.0,
           ("merino/nylon blend",)),
    )),
    _Category("HOM", "home", 110, 40, ("Bramble Home", "Lumen & Co", "Hearthside", "Oak & Loom"),
              ("0.90", "1.15"), (
        _F("Linen Duvet Cover", (89, 129), (1.2, 1.4), ("White", "Flax", "Sage", "Slate"),
           ("Twin", "Full", "Queen", "King"), 0.15, ("stonewashed linen",)),
        _F("Percale Sheet Set", (59, 89), (1.1, 1.3), ("White", "Ivory", "Navy"),
           ("Twin", "Full", "Queen", "King"), 0.12, ("400-thread-count cotton percale",)),
        _F("Bath Towel Set (6-Piece)", (39, 69), (2.0, 2.4), ("White", "Fog", "Eucalyptus", "Charcoal"),
           materials=("Turkish cotton",), max_colors=4),
        _F("Stoneware Dinnerware Set (16-Piece)", (79, 139), (7.0, 8.0), ("Speckled White", "Slate Blue",
           "Terracotta"), materials=("stoneware",)),
        _F("Cast Iron Skillet", (24, 34), (1.5, 1.8), ("Black",), ("8 in", "10 in", "12 in"), 0.3,
           ("pre-seasoned cast iron",)),
        _F("Glass Food Storage Set", (29, 39), (2.0, 2.5), ("Clear",), ("10-Piece", "18-Piece", "24-Piece"),
           0.3, ("borosilicate glass",)),
        _F("Ceramic Table Lamp", (49, 99), (2.3, 2.8), ("Brass", "Matte Black", "Glazed White"),
           materials=("ceramic",)),
        _F("Chunky Knit Throw", (35, 79), (1.0, 1.3), ("Cream", "Rust", "Sage", "Charcoal"),
           materials=("acrylic knit",), max_colors=4),
        _F("Scented Soy Candle", (14, 28), (0.35, 0.45), ("Cedar & Sage", "Sea Salt", "Fig", "Amber"),
           ("8 oz", "14 oz"), 0.4, ("soy wax",), color_label="scent", max_colors=4),
        _F("Cotton Bath Mat", (19, 32), (0.6, 0.8), ("White", "Fog", "Navy"), ("17x24 in", "21x34 in"), 0.3,
           ("cotton",)),
    ), brands_per_family=3),
    _Category("OUT", "outdoor", 80, 35, ("Summit Trail", "Ridgecrest", "Basecamp Co"), ("0.90", "1.10"), (
        _F("2-Person Backpacking Tent", (189, 349), (2.0, 2.3), ("Sand", "Forest Green"),
           materials=("silnylon",)),
        _F("Down Sleeping Bag", (149, 229), (0.9, 1.2), ("Regular", "Long"), ("30F", "20F", "0F"), 0.2,
           ("650-fill duck down",), color_label="length"),
        _F("Trekking Poles (Pair)", (59, 129), (0.45, 0.55), ("Graphite", "Orange"), ("Aluminum", "Carbon"),
           0.6, color_label="color"),
        _F("Insulated Water Bottle", (24, 32), (0.35, 0.45), ("Glacier", "Black", "Sage", "Coral"),
           ("18 oz", "32 oz", "40 oz"), 0.2, ("18/8 stainless steel",), max_colors=4),
        _F("Daypack 24L", (69, 119), (0.8, 1.0), ("Black", "Olive", "Ochre"), materials=("recycled nylon",)),
        _F("Folding Camp Chair", (39, 79), (2.4, 3.0), ("Navy", "Heather Grey", "Red"),
           materials=("powder-coated steel",)),
        _F("Headlamp 350 Lumen", (29, 49), (0.08, 0.10), ("Black", "Blue"), materials=("polycarbonate",)),
        _F("Isobutane-Propane Fuel Canister", (5, 9), (0.20, 0.22), sizes=("110 g", "230 g", "450 g"),
           size_step=0.5, hazmat="UN2037 gas cartridges, flammable, limited quantity"),
        _F("Bear Deterrent Spray", (39, 49), (0.40, 0.45), sizes=("7.9 oz", "10.2 oz"), size_step=0.15,
           hazmat="UN1950 aerosols, limited quantity"),
        _F("Merino Neck Gaiter", (24, 32), (0.05, 0.06), ("Black", "Olive", "Blaze Orange"),
           materials=("merino wool",)),
    ), brands_per_family=3),
    _Category("ELE", "electronics", 80, 50, ("Voltline", "Arcwave", "Nimbus Audio"), ("0.90", "1.10"), (
        _F("Wireless Earbuds", (49, 149), (0.06, 0.08), ("Black", "White", "Sand")),
        _F("Power Bank", (29, 59), (0.20, 0.25), ("Black", "White"), ("10000 mAh", "20000 mAh"), 0.5,
           hazmat="UN3480 lithium ion batteries"),
        _F("CR2032 Lithium Coin Cells (6-Pack)", (7, 9), (0.02, 0.03),
           hazmat="UN3090 lithium metal batteries"),
        _F("AA Lithium Batteries", (12, 16), (0.12, 0.14), sizes=("8-Pack", "12-Pack"), size_step=0.4,
           hazmat="UN3090 lithium metal batteries"),
        _F("USB-C Charging Cable", (9, 14), (0.04, 0.05), ("Black", "White"), ("1 m", "2 m"), 0.3,
           ("braided nylon",)),
        _F("Portable Bluetooth Speaker", (39, 129), (0.50, 0.70), ("Black", "Slate Blue", "Red")),
        _F("Smart Plug (2-Pack)", (19, 34), (0.20, 0.25), ("White",)),
        _F("65W GaN USB-C Charger", (29, 59), (0.10, 0.13), ("White", "Black")),
        _F("HDMI 2.1 Cable", (12, 18), (0.10, 0.12), ("Black",), ("1 m", "2 m", "3 m"), 0.25),
        _F("Mechanical Keyboard", (69, 149), (0.9, 1.1), ("Red Switches", "Brown Switches", "Blue Switches"),
           ("Tenkeyless", "Full Size"), 0.15, color_label="switch"),
    ), brands_per_family=3),
    _Category("BEA", "beauty", 60, 80, ("Lumière", "Fieldwork Botanics", "Clearwater Skin"), ("0.90", "1.15"), (
        _F("Hydrating Face Serum", (18, 28), (0.08, 0.10), sizes=("30 ml", "50 ml"), size_step=0.5,
           materials=("hyaluronic acid",)),
        _F("Mineral Sunscreen SPF 50", (14, 22), (0.10, 0.12), sizes=("50 ml", "100 ml"), size_step=0.6),
        _F("Dry Shampoo", (8, 12), (0.15, 0.20), ("Original", "Brunette", "Fresh Citrus"), ("4 oz", "6.7 oz"),
           0.35, hazmat="UN1950 aerosols, limited quantity", color_label="variant"),
        _F("Firm Hold Hairspray", (9, 16), (0.25, 0.30), sizes=("8 oz", "12 oz"), size_step=0.3,
           hazmat="UN1950 aerosols, limited quantity"),
        _F("Nail Polish", (9, 14), (0.04, 0.05), ("Ballet Pink", "Crimson", "Midnight", "Clear Top Coat",
           "Sage"), hazmat="UN1263 paint, flammable liquid, limited quantity", color_label="shade",
           max_colors=5),
        _F("Eau de Parfum", (58, 98), (0.20, 0.25), ("Vetiver", "Neroli", "Oud & Rose"), ("30 ml", "50 ml"),
           0.5, hazmat="UN1266 perfumery products, flammable, limited quantity", color_label="scent"),
        _F("Shea Body Lotion", (12, 22), (0.30, 0.40), ("Unscented", "Lavender", "Coconut"),
           ("8 oz", "16 oz"), 0.5, ("shea butter",), color_label="scent"),
        _F("Bamboo Toothbrush (4-Pack)", (9, 12), (0.06, 0.08), ("Soft", "Medium"), color_label="bristle"),
    ), brands_per_family=3),
    _Category("HHD", "household", 50, 120, ("Pantry & Co", "Brightwell", "Greenleaf"), ("0.85", "1.20"), (
        _F("Cooking Spray", (4, 7), (0.20, 0.25), ("Avocado Oil", "Olive Oil", "Canola Oil"), ("5 oz", "7 oz"),
           0.3, hazmat="UN1950 aerosols, limited quantity", color_label="oil"),
        _F("Air Freshener Spray", (4, 6), (0.30, 0.35), ("Linen", "Citrus", "Pine"),
           hazmat="UN1950 aerosols, limited quantity", color_label="scent"),
        _F("Insect Repellent Spray", (7, 10), (0.18, 0.22), sizes=("4 oz", "6 oz"), size_step=0.3,
           hazmat="UN1950 aerosols, limited quantity"),
        _F("Butane Lighter Refill", (5, 7), (0.12, 0.15), sizes=("2.5 oz", "5.5 oz"), size_step=0.7,
           hazmat="UN2037 gas cartridges, flammable, limited quantity"),
        _F("Isopropyl Alcohol 70%", (4, 6), (0.50, 0.55), sizes=("16 oz", "32 oz"), size_step=0.6,
           hazmat="UN1219 isopropanol, flammable liquid, limited quantity"),
        _F("Disinfecting Wipes", (5, 8), (0.70, 0.80), ("Lemon", "Fresh"), ("35 ct", "75 ct"), 0.6,
           color_label="scent"),
        _F("Organic Ground Coffee 12 oz", (11, 16), (0.36, 0.38), ("Light Roast", "Medium Roast",
           "Dark Roast", "Decaf"), color_label="roast", max_colors=4),
        _F("Extra Virgin Olive Oil", (12, 18), (1.0, 1.1), sizes=("500 ml", "1 l"), size_step=0.7),
        _F("Sparkling Water 12-Pack", (5, 7), (4.4, 4.6), ("Lime", "Grapefruit", "Unflavored"),
           color_label="flavor"),
        _F("Laundry Detergent Pods", (12, 19), (1.0, 1.2), ("Free & Clear", "Fresh Linen"),
           ("42 ct", "81 ct"), 0.7, color_label="scent"),
    ), brands_per_family=3),
)


def _money(value: float) -> Decimal:
    """A shelf price: whole dollars ending in .99 (or .49 under $10)."""
    whole = max(1, int(value))
    return Decimal(whole) + (Decimal("0.49") if whole < 10 and value - whole < 0.5 else Decimal("0.99"))


def _build_catalog(seed: int) -> list[c.UpsertSku]:
    rng = random.Random(f"orderloom-demo:{seed}:catalog")
    items: list[c.UpsertSku] = []
    for cat in CATEGORIES:
        n = 0
        # (product, size) -> SKUs made so far: later colours and brands name them as substitutes.
        made: dict[tuple[str, str], list[str]] = {}
        drawn = []
        for fam in cat.families:
            colors = list(fam.colors)
            rng.shuffle(colors)
            brands = rng.sample(cat.brands, k=min(cat.brands_per_family, len(cat.brands)))
            base_price, base_weight = rng.uniform(*fam.price), rng.uniform(*fam.weight)
            premium = {brand: rng.uniform(0.85, 1.2) for brand in brands}
            drawn.append([(fam, brand, base_price * premium[brand], base_weight, col, si, size)
                          for brand in brands for col in colors[:fam.max_colors]
                          for si, size in enumerate(fam.sizes)])
        for combos, quota in zip(drawn, _share(cat.count, [len(x) for x in drawn]), strict=True):
            for fam, brand, base_price, base_weight, color, si, size in combos[:quota]:
                n += 1
                code = f"{cat.prefix}-{n:04d}"
                growth = 1 + fam.size_step * si
                price = _money(base_price * growth)
                weight = Decimal(str(round(base_weight * growth * rng.uniform(0.95, 1.05), 3)))
                attributes = {"brand": brand, "product": fam.product}
                if color:
                    attributes[fam.color_label] = color
                if size:
                    attributes["size"] = size
                if fam.materials:
                    attributes["material"] = rng.choice(fam.materials)
                if fam.hazmat:
                    attributes["dangerous_goods"] = fam.hazmat
                name = ", ".join(x for x in (f"{brand} {fam.product}", color, size) if x)
                earlier = made.setdefault((fam.product, size), [])
                substitutes: tuple[Substitute, ...] = ()
                if earlier and rng.random() < 0.4:
                    lo, hi = cat.substitute_range
                    picks = rng.sample(earlier, k=min(len(earlier), rng.choice((1, 1, 2))))
                    substitutes = tuple(Substitute(sku, Decimal(lo), Decimal(hi)) for sku in picks)
                earlier.append(code)
                items.append(c.UpsertSku(
                    sku=code, name=name, category=cat.name, unit_price=price, weight_kg=weight,
                    hazmat=bool(fam.hazmat), is_new=n > 1 and rng.random() < 0.08, attributes=attributes,
                    substitutes=substitutes))
    return items


def _share(total: int, capacities: Sequence[int]) -> list[int]:
    """Split `total` over families as evenly as their capacities allow (smallest filled first)."""
    if sum(capacities) < total:
        raise AssertionError(f"the templates make {sum(capacities)} SKUs, not {total}")
    quotas = [0] * len(capacities)
    remaining = total
    order = sorted(range(len(capacities)), key=lambda i: capacities[i])
    for left, i in enumerate(order):
        quotas[i] = min(capacities[i], math.ceil(remaining / (len(order) - left)))
        remaining -= quotas[i]
    return quotas


# -- accounts and customers ------------------------------------------------------------------------

TIER_DISCOUNT: dict[Tier, Decimal] = {Tier.STANDARD: Decimal("0.20"), Tier.SILVER: Decimal("0.25"),
                                      Tier.GOLD: Decimal("0.30"), Tier.PLATINUM: Decimal("0.35")}

# (code, name, tier, credit limit, ship complete, EDI partner id, email domain)
ACCOUNTS: tuple[tuple[str, str, Tier, int, bool, str | None, str], ...] = (
    ("ACC-CASCADE", "Cascade Outfitters", Tier.PLATINUM, 400_000, False, "CASCADEOUTFIT", "cascadeoutfitters"),
    ("ACC-LAKESHORE", "Lakeshore Home Supply", Tier.GOLD, 150_000, True, "LAKESHOREHOME", "lakeshorehome"),
    ("ACC-PINECREST", "Pinecrest Mercantile", Tier.SILVER, 60_000, False, None, "pinecrestmerc"),
    ("ACC-BLUERIDGE", "Blue Ridge General Store", Tier.STANDARD, 25_000, True, None, "blueridgegeneral"),
    ("ACC-HARBORVIEW", "Harborview Hotels Group", Tier.GOLD, 200_000, True, "HARBORVIEWHTL", "harborviewhotels"),
    ("ACC-METROCAMPUS", "Metro Campus Stores", Tier.SILVER, 75_000, False, "METROCAMPUS01", "metrocampus"),
    ("ACC-SUNBELT", "Sunbelt Pharmacy Co-op", Tier.GOLD, 180_000, False, "SUNBELTRXCOOP", "sunbeltrx"),
    ("ACC-PRAIRIE", "Prairie Hardware Cooperative", Tier.PLATINUM, 350_000, False, "PRAIRIEHWCOOP",
     "prairiehardware"),
    ("ACC-BAYSIDE", "Bayside Marine Supply", Tier.STANDARD, 30_000, True, None, "baysidemarine"),
    ("ACC-REDWOOD", "Redwood Office Interiors", Tier.SILVER, 50_000, True, None, "redwoodoffice"),
    ("ACC-GRANITE", "Granite State Outdoor", Tier.STANDARD, 20_000, False, None, "granitestateoutdoor"),
    ("ACC-GULFCOAST", "Gulf Coast Hospitality", Tier.SILVER, 90_000, True, "GULFCOASTHOSP", "gulfcoasthosp"),
    ("ACC-MESA", "Mesa Fitness Clubs", Tier.STANDARD, 40_000, False, None, "mesafitness"),
    ("ACC-NORTHSTAR", "Northstar School Supply", Tier.GOLD, 120_000, True, "NORTHSTARSCHL", "northstarschool"),
)
CONTRACT_ACCOUNT = "ACC-CASCADE"
CONTRACT_CATEGORY = "outdoor"
CONTRACT_DISCOUNT = Decimal("0.40")

FIRST_NAMES = ("Ava", "Liam", "Maya", "Noah", "Sofia", "Elijah", "Priya", "Mateo", "Hana", "Lucas", "Amara",
               "Ethan", "Zoe", "Diego", "Grace", "Omar", "Chloe", "Kenji", "Isla", "Andre", "Nora", "Samir",
               "Leah", "Marcus", "Rosa", "Caleb", "Yara", "Felix", "Imani", "Owen")
LAST_NAMES = ("Nguyen", "Garcia", "Smith", "Patel", "Johnson", "Kim", "Martinez", "Brown", "Okafor", "Davis",
              "Lopez", "Wilson", "Chen", "Anderson", "Rivera", "Thomas", "Haddad", "Moore", "Jackson", "Silva",
              "Walker", "Nakamura", "Young", "Hughes", "Ramirez", "Foster", "Kowalski", "Bennett")
EMAIL_DOMAINS = ("example.com", "example.net", "example.org")


def _price_lists(skus: Sequence[c.UpsertSku], key: Callable[[str], str]) -> list[c.UpsertPriceList]:
    lists = []
    for tier, discount in TIER_DISCOUNT.items():
        prices = {s.sku: (s.unit_price * (1 - discount)).quantize(CENT, ROUND_HALF_UP) for s in skus}
        code = f"PL-{tier.value.upper()}"
        lists.append(c.UpsertPriceList(code=code, currency="USD", prices=prices, idempotency_key=key(code)))
    base = TIER_DISCOUNT[Tier.PLATINUM]
    contract = {s.sku: (s.unit_price * (1 - (CONTRACT_DISCOUNT if s.category == CONTRACT_CATEGORY else base)))
                .quantize(CENT, ROUND_HALF_UP) for s in skus}
    code = f"PL-{CONTRACT_ACCOUNT.removeprefix('ACC-')}"
    lists.append(c.UpsertPriceList(code=code, currency="USD", prices=contract, idempotency_key=key(code)))
    return lists


def _accounts(key: Callable[[str], str]) -> list[c.UpsertAccount]:
    out = []
    for code, name, tier, credit, ship_complete, edi, domain in ACCOUNTS:
        price_list = f"PL-{code.removeprefix('ACC-')}" if code == CONTRACT_ACCOUNT else f"PL-{tier.value.upper()}"
        out.append(c.UpsertAccount(code=code, name=name, tier=tier, price_list_code=price_list,
                                   credit_limit=Decimal(credit), ship_complete=ship_complete, edi_partner_id=edi,
                                   email_domains=(f"{domain}.example",), idempotency_key=key(code)))
    return out


def _customers(seed: int, key: Callable[[str], str], count: int = 100) -> list[c.UpsertCustomer]:
    rng = random.Random(f"orderloom-demo:{seed}:customers")
    out: list[c.UpsertCustomer] = []
    emails: set[str] = set()
    buyers = ("purchasing", "orders", "procurement", "buyer")
    for i in range(1, count + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        account = ACCOUNTS[i - 1] if i <= len(ACCOUNTS) else None
        if account is not None:
            # The first customers are the accounts' buyers, writing from the account's own domain.
            local, domain = f"{rng.choice(buyers)}.{last.lower()}", f"{account[6]}.example"
            tier, account_code, name = account[2], account[0], f"{first} {last} ({account[1]})"
        else:
            local, domain = f"{first}.{last}".lower(), rng.choice(EMAIL_DOMAINS)
            roll = rng.random()
            tier = Tier.GOLD if roll < 0.05 else Tier.SILVER if roll < 0.20 else Tier.STANDARD
            account_code, name = None, f"{first} {last}"
        email, n = f"{local}@{domain}", 1
        while email in emails:
            n += 1
            email = f"{local}{n}@{domain}"
        emails.add(email)
        customer_id = f"CUST-{i:04d}"
        out.append(c.UpsertCustomer(customer_id=customer_id, email=email, name=name, tier=tier,
                                    account_code=account_code, idempotency_key=key(customer_id)))
    return out


# -- stock -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Position:
    """The opening stock of one SKU at one node and its policy."""

    sku: str
    node: str
    quantity: int
    safety_stock: int = 0
    protected_qty: int = 0


def _stock_plan(seed: int, skus: Sequence[c.UpsertSku]) -> list[Position]:
    rng = random.Random(f"orderloom-demo:{seed}:stock")
    velocity = {cat.name: cat.velocity for cat in CATEGORIES}
    first_of_category = {s.category: s.sku for s in reversed(skus)}
    # Some SKUs keep units back for B2B (EDI and email) buyers at the DCs that serve them.
    protected = {s.sku for s in skus if not s.is_new and not s.hazmat and rng.random() < 0.07}
    positions: list[Position] = []
    for s in skus:
        core = first_of_category[s.category] == s.sku
        demand = min(6.0, rng.lognormvariate(0, 0.7))
        for node in NODES:
            if s.hazmat and not node.hazmat:
                continue
            breadth = node.breadth * (0.35 if s.is_new else 1.0)
            if node.node_type == NodeType.STORE and s.category in ("household", "outdoor"):
                breadth *= 0.5
            if not core and rng.random() >= breadth:
                continue
            qty = max(1, round(velocity[s.category] * demand * node.depth * rng.uniform(0.6, 1.4)))
            if node.b2b_only:
                qty = max(12, qty // 12 * 12)  # the wholesale DC holds whole cases of 12
            if s.is_new:
                qty = max(1, qty // 4)
            safety = 0
            if node.node_type == NodeType.STORE:
                safety = 1 if qty > 2 else 0  # the display unit
            elif rng.random() < 0.4:
                safety = max(1, round(qty * 0.05))
            guard = round(qty * 0.2) if s.sku in protected and node.code in ("DC-CMH", "DC-ATL", "DC-IND") else 0
            positions.append(Position(s.sku, node.code, qty, safety, guard))
    return positions


def _flash_sale(seed: int, skus: Sequence[c.UpsertSku], positions: Sequence[Position]) -> list[tuple[str, int]]:
    """A few marketplace flash-sale SKUs and their caps: a fifth of the network's units, at most 150."""
    rng = random.Random(f"orderloom-demo:{seed}:flash")
    units: dict[str, int] = {}
    for p in positions:
        units[p.sku] = units.get(p.sku, 0) + p.quantity
    eligible = [s.sku for s in skus if not s.hazmat and not s.is_new and units.get(s.sku, 0) >= 50]
    return [(sku, min(150, units[sku] // 5)) for sku in sorted(rng.sample(eligible, k=min(5, len(eligible))))]


# -- the plan --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DemoPlan:
    seed: int
    master: tuple[tuple[str, tuple[c.Command, ...]], ...]
    receipts: tuple[c.ReceiveStock, ...]
    caps: tuple[tuple[str, int], ...]
    policies: tuple[c.SetStockPolicy, ...]
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def skus(self) -> tuple[c.UpsertSku, ...]:
        return tuple(cmd for _, cmds in self.master for cmd in cmds if isinstance(cmd, c.UpsertSku))

    @property
    def last_command(self) -> c.Command:
        return self.policies[-1]


CAP_CHANNEL = "marketplace"
FLASH_SALE_HOURS = 72


def demo_plan(seed: int = 7) -> DemoPlan:
    """Every command of the demo network for `seed`, in the order they must be applied."""

    def key(kind: str) -> Callable[[str], str]:
        return lambda ident: f"demo:{DEMO_VERSION}:{seed}:{kind}:{ident}"

    nodes = [c.UpsertNode(
        code=n.code, name=n.name, node_type=n.node_type, city=n.city, state=n.state, postal_code=n.postal_code,
        latitude=n.latitude, longitude=n.longitude, timezone=n.timezone, daily_pick_capacity=n.pick_capacity,
        cutoff_local=n.cutoff, hazmat_capable=n.hazmat, b2b_only=n.b2b_only,
        handling_cost=Decimal(n.handling_cost), idempotency_key=key("node")(n.code)) for n in NODES]
    channels = [c.UpsertChannel(code=code, name=name, kind=kind, priority=priority,
                                idempotency_key=key("channel")(code)) for code, name, kind, priority in CHANNELS]
    services = tuple(s.value for s in ServiceLevel)
    carriers = [c.UpsertCarrier(code=code, name=name, services=services, idempotency_key=key("carrier")(code))
                for code, name, _ in CARRIERS]
    lanes: list[c.UpsertLanes] = []
    for code, _, ground in CARRIERS:
        for n in NODES:
            rows: list[tuple[str, str, str, str, int, int, float]] = []
            for zip3, _city, _state, lat, lon in ZIP3:
                zone = zone_for(great_circle_miles(n.latitude, n.longitude, lat, lon))
                rows.extend((code, s.value, n.code, zip3, zone, transit_days(ground, s, zone),
                             lane_on_time(code, s, zone)) for s in ServiceLevel)
            lanes.append(c.UpsertLanes(lanes=tuple(rows), idempotency_key=key("lanes")(f"{code}@{n.code}")))
    cards = [dataclasses.replace(rate_card(code, s, zone), idempotency_key=key("rate_card")(f"{code}/{s}/{zone}"))
             for code, _, _ in CARRIERS for s in ServiceLevel for zone in ZONES]
    routing_policy = c.CreateRoutingPolicy(name="balanced", weights=DEMO_POLICY_WEIGHTS, actor="demo-seed",
                                           note="demo default: cost first, splits and late risk priced",
                                           activate=True, idempotency_key=key("routing_policy")("balanced"))
    skus = [dataclasses.replace(s, idempotency_key=key("sku")(s.sku)) for s in _build_catalog(seed)]
    price_lists = _price_lists(skus, key("price_list"))
    accounts = _accounts(key("account"))
    customers = _customers(seed, key("customer"))
    positions = _stock_plan(seed, skus)
    reference = f"DEMO-OPENING-S{seed}"
    receipts = tuple(c.ReceiveStock(sku=p.sku, node=p.node, quantity=p.quantity, reference=reference,
                                    idempotency_key=key("receipt")(f"{p.sku}@{p.node}")) for p in positions)
    policies = tuple(c.SetStockPolicy(sku=p.sku, node=p.node, safety_stock=p.safety_stock,
                                      protected_qty=p.protected_qty,
                                      idempotency_key=key("policy")(f"{p.sku}@{p.node}"))
                     for p in positions if p.safety_stock or p.protected_qty)
    caps = tuple(_flash_sale(seed, skus, positions))
    master: tuple[tuple[str, tuple[c.Command, ...]], ...] = (
        ("nodes", tuple(nodes)), ("channels", tuple(channels)), ("carriers", tuple(carriers)),
        ("lanes", tuple(lanes)), ("rate cards", tuple(cards)), ("routing policy", (routing_policy,)),
        ("skus", tuple(skus)), ("price lists", tuple(price_lists)),
        ("accounts", tuple(accounts)), ("customers", tuple(customers)))
    counts = {
        "nodes": len(nodes), "stores": sum(n.node_type == NodeType.STORE for n in NODES),
        "channels": len(channels), "carriers": len(carriers), "lanes": sum(len(x.lanes) for x in lanes),
        "rate_cards": len(cards), "routing_policies": 1,
        "zip3_regions": len(ZIP3), "skus": len(skus), "hazmat_skus": sum(s.hazmat for s in skus),
        "new_skus": sum(s.is_new for s in skus), "skus_with_substitutes": sum(bool(s.substitutes) for s in skus),
        "price_lists": len(price_lists), "accounts": len(accounts), "customers": len(customers),
        "stock_positions": len(positions), "units": sum(p.quantity for p in positions),
        "safety_policies": len(policies), "protected_positions": sum(p.protected_qty > 0 for p in positions),
        "channel_caps": len(caps),
    }
    return DemoPlan(seed, master, receipts, caps, policies, counts)


# -- applying it -----------------------------------------------------------------------------------

def seed_demo(bus: MessageBus, seed: int = 7, progress: Progress | None = None) -> dict[str, Any]:
    """Apply the demo plan for `seed` through the bus; see the module docstring for idempotency."""
    started = clock.perf_counter()
    plan = demo_plan(seed)
    report = progress or (lambda phase, done, total: None)
    summary: dict[str, Any] = {"seed": seed, **plan.counts}
    if _already_applied(bus, plan):
        summary.update(already_seeded=True, commands_applied=0, receipts_skipped=len(plan.receipts),
                       caps_skipped=len(plan.caps))
        summary.update(_network_totals(bus), seconds=round(clock.perf_counter() - started, 2))
        return summary
    applied = 0
    for phase, commands in plan.master:
        applied += _apply(bus, phase, commands, report)
    with bus.uow_factory() as uow:
        stocked = {(b.sku, b.node) for b in uow.inventory.all_balances()}
        now = uow.now()
        missing_caps = [(sku, cap) for sku, cap in plan.caps if uow.inventory.get_cap(CAP_CHANNEL, sku) is None]
    receipts = [r for r in plan.receipts if (r.sku, r.node) not in stocked]
    applied += _apply(bus, "opening stock", receipts, report)
    window = now.replace(minute=0, second=0, microsecond=0)
    caps = [c.SetChannelCap(channel=CAP_CHANNEL, sku=sku, cap=cap, starts_at=window - timedelta(hours=1),
                            ends_at=window + timedelta(hours=FLASH_SALE_HOURS)) for sku, cap in missing_caps]
    applied += _apply(bus, "flash-sale caps", caps, report)
    applied += _apply(bus, "stock policies", plan.policies, report)
    summary.update(already_seeded=False, commands_applied=applied,
                   receipts_skipped=len(plan.receipts) - len(receipts), caps_skipped=len(plan.caps) - len(caps))
    summary.update(_network_totals(bus), seconds=round(clock.perf_counter() - started, 2))
    return summary


def _apply(bus: MessageBus, phase: str, commands: Sequence[c.Command], report: Progress) -> int:
    total = len(commands)
    report(phase, 0, total)
    for i, cmd in enumerate(commands, 1):
        bus.handle(cmd)
        report(phase, i, total)
    return total


def _already_applied(bus: MessageBus, plan: DemoPlan) -> bool:
    last = plan.last_command
    assert last.idempotency_key is not None
    with bus.uow_factory() as uow:
        stored = uow.idempotency.get(last.idempotency_key)
    return stored is not None and stored.request_hash == request_hash(last)


def _network_totals(bus: MessageBus) -> dict[str, int]:
    with bus.uow_factory() as uow:
        balances = uow.inventory.all_balances()
    return {"positions_in_database": len(balances), "on_hand_in_database": sum(b.on_hand for b in balances)}


# -- a stream of demo orders -----------------------------------------------------------------------

CONSUMER_CHANNELS = (("web", 0.45), ("marketplace", 0.25), ("mobile", 0.18), ("pos", 0.12))
B2B_SHARE = 0.12
STREETS = ("Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Elm St", "Park Blvd", "Lake Rd", "Hill St", "Pine Ct")


def demo_orders(seed: int, count: int, first: int = 1) -> list[c.PlaceOrder]:
    """`count` realistic orders against the demo network, numbered from `first` (external ids
    `DEMO-<seed>-<n>`): consumers on the web, marketplace, mobile and POS channels (1-4 lines, popular
    SKUs more often), and B2B buyers by EDI or email (3-10 lines in case quantities, with their account).
    Destinations are the demo's ZIP3 regions weighted towards the large metros listed first."""
    skus = [s for s in _build_catalog(seed) if not s.is_new]
    customers = _customers(seed, lambda ident: ident)
    consumers = [cu for cu in customers if cu.account_code is None]
    buyers = [cu for cu in customers if cu.account_code is not None]
    popularity = [1 / (rank + 1) for rank in range(len(skus))]
    regions = list(ZIP3)
    region_weights = [1 / (1 + i / 20) for i in range(len(regions))]
    out: list[c.PlaceOrder] = []
    for n in range(first, first + count):
        rng = random.Random(f"orderloom-demo:{seed}:order:{n}")
        zip3, city, state, _lat, _lon = rng.choices(regions, region_weights)[0]
        b2b = rng.random() < B2B_SHARE
        customer = rng.choice(buyers if b2b else consumers)
        channel = rng.choice(("b2b_edi", "email")) if b2b else \
            rng.choices([ch for ch, _ in CONSUMER_CHANNELS], [w for _, w in CONSUMER_CHANNELS])[0]
        wanted = rng.randint(3, 10) if b2b else rng.choices((1, 2, 3, 4), (0.55, 0.25, 0.13, 0.07))[0]
        chosen: dict[str, int] = {}
        while len(chosen) < wanted:
            sku = rng.choices(skus, popularity)[0]
            chosen[sku.sku] = rng.choice((6, 12, 24)) if b2b else rng.choices((1, 2, 3), (0.8, 0.15, 0.05))[0]
        zip5, city, state = _street_zip(zip3, city, state, rng)
        ship_to = {"name": customer.name, "line1": f"{rng.randint(10, 9999)} {rng.choice(STREETS)}", "city": city,
                   "state": state, "postal_code": zip5, "country": "US"}
        out.append(c.PlaceOrder(channel=channel, external_id=f"DEMO-{seed}-{n}", ship_to=ship_to,
                                lines=tuple(c.NewOrderLine(sku=s, quantity=q) for s, q in chosen.items()),
                                customer_id=customer.customer_id, account_code=customer.account_code))
    return out


def _street_zip(zip3: str, city: str, state: str, rng: random.Random) -> tuple[str, str, str]:
    """A real, deliverable street ZIP in the region with the city USPS names for it (so demo orders pass
    address validation; the exception desk would otherwise stop them all)."""
    zips = _region_zips().get(zip3)
    if not zips:
        return f"{zip3}01", city, state
    entry = rng.choice(zips)
    return entry.zip5, entry.city.title(), entry.state


@functools.cache
def _region_zips() -> dict[str, list[ZipEntry]]:
    db = get_zip_database()
    wanted = {z for z, *_rest in ZIP3}
    out: dict[str, list[ZipEntry]] = {}
    for entry in sorted(db.by_zip.values(), key=lambda x: x.zip5):
        if entry.zip5[:3] in wanted and entry.kind == "STANDARD" and entry.active:
            out.setdefault(entry.zip5[:3], []).append(entry)
    return out


@dataclass(frozen=True)
class DemoFault:
    """One order with something wrong, and what should happen to it."""

    what: str
    command: c.PlaceOrder
    payment: tuple[str, float] | None = None  # (status, fraud score) from the payment gateway
    expect: str = ""


def demo_faults(seed: int = 7, first: int = 1) -> list[DemoFault]:
    """A handful of orders showing the exception desk: each kind of fault the demo can show without a
    clock or a warehouse (short picks and carrier incidents come in through their own commands)."""
    base = demo_orders(seed, 200, first=10_000)
    consumers: list[c.PlaceOrder] = []
    for o in base:
        if o.account_code is None and o.channel == "web" and o.customer_id not in {x.customer_id for x in consumers}:
            consumers.append(o)
    b2b = next(o for o in base if o.account_code is not None)
    n = first

    def ext(label: str) -> str:
        nonlocal n
        n += 1
        return f"FAULT-{seed}-{n}-{label}"

    typo_order, zip_order, dup_order, declined, big = consumers[:5]
    prices = {item.sku: item.unit_price for item in _build_catalog(seed)}
    city = typo_order.ship_to["city"]
    typo = city[0] + city[2] + city[1] + city[3:] if len(city) > 3 else city + "x"
    return [
        DemoFault("a misspelt city with one confident correction",
                  replace(typo_order, external_id=ext("city"), ship_to={**typo_order.ship_to, "city": typo}),
                  expect="corrected automatically, routed"),
        DemoFault("an address that cannot be verified",
                  replace(zip_order, external_id=ext("zip"), ship_to={**zip_order.ship_to, "postal_code": "00000",
                                                                      "city": "Nowhereville"}),
                  expect="waits for a person: ask the customer"),
        DemoFault("an order", replace(dup_order, external_id=ext("first")), expect="routed"),
        DemoFault("the same basket submitted again", replace(dup_order, external_id=ext("again")),
                  expect="waits: cancel as a duplicate"),
        DemoFault("a declined payment", replace(declined, external_id=ext("declined")),
                  payment=("declined", 0.1), expect="on hold until the payment clears"),
        DemoFault("a B2B line far below the account's price list",
                  replace(b2b, external_id=ext("price"), lines=tuple(
                      replace(ln, unit_price=Decimal("0.50")) if i == 0 else ln for i, ln in enumerate(b2b.lines))),
                  expect="waits: reprice to the list or accept"),
        DemoFault("a high-value consumer order", replace(big, external_id=ext("big"), lines=(
            replace(big.lines[0], quantity=math.ceil(6000 / float(prices[big.lines[0].sku]))),)),
            expect="waits: check, then accept"),
    ]
