"""Web and app sessions: devices, visits, and the behavioural events each visit produces.

Every device carries one anonymous id. Its visits are anonymous until the person logs in on it
(or buys on it, which needs a login); from the identify call on, the device's events carry the
account id as `userId` too. Prospects identify once through a contact-sales form (traits, no
account). A few devices never log in: their anonymous records are the undecidable minority.
"""

from dataclasses import dataclass

import numpy as np
import polars as pl

from demo.identifiers import uuid4_strings
from demo.lifecycle import Lifecycles
from demo.pools import APP_DEVICES, WEB_USER_AGENTS
from demo.purchases import sample_products
from demo.timeline import DAY, T0, T1, WEB_HOURS, uniform_times

# Event kinds of the skeleton; the writers turn each into its Segment call.
LANDING, PRODUCT_PAGE, VIEWED, ADDED, CHECKOUT_PAGE, CHECKOUT_STARTED, ORDER_COMPLETED = range(7)
CONTACT_PAGE, IDENTIFY_FORM, IDENTIFY_LOGIN = 7, 8, 9
# The care plan, Northwind's offer that is not a product: bought at checkout with gear (the
# categories below), far more often by people who care for their gear (a trait that lasts), so a
# past plan predicts the next one.
CARE_PLAN = 10
CARE_PLAN_CATEGORIES = ("Electronics", "Cycling", "Camping")
CARE_PLAN_CAREFUL_SHARE = 0.3
CARE_PLAN_RATES = (0.04, 0.5)  # per order with gear: everyone else, the careful
STEP_SECONDS = 35
LOGIN_RATE = 0.97  # chance a device used after the account exists gets logged in on


@dataclass(frozen=True)
class Clickstream:
    """The devices and the event skeleton of every web and app visit."""

    devices: pl.DataFrame  # device_row, pidx, platform, anonymous_id, device_id, ip, user_agent, app_device, identify_at, account_id
    events: pl.DataFrame  # kind, platform, pidx, device_row, ts, product_row, quantity, order_key, user_id


def _devices(people: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    web = people.select("pidx", n="n_web_devices", platform=pl.lit("web"))
    app = people.select("pidx", n="n_app_devices", platform=pl.lit("app"))
    devices = (
        pl.concat([web, app])
        .filter(pl.col("n") > 0)
        .with_columns(device_idx=pl.int_ranges(0, pl.col("n")))
        .explode("device_idx")
        .sort("pidx", "platform", "device_idx")
        .drop("n")
    )
    n = devices.height
    ips = rng.integers(0, 2**32, size=n, dtype=np.uint64)
    octets = [((ips >> shift) & 255).astype(np.int64) for shift in (24, 16, 8, 0)]
    ip = pl.DataFrame({f"o{i}": 24 + o % 190 if i == 0 else o for i, o in enumerate(octets)}).select(
        pl.format("{}.{}.{}.{}", "o0", "o1", "o2", "o3")
    )
    return devices.with_columns(
        device_row=pl.int_range(pl.len()),
        anonymous_id=uuid4_strings(rng, n),
        device_id=uuid4_strings(rng, n),
        ip=ip.to_series(),
        user_agent=pl.Series(
            np.array(WEB_USER_AGENTS, dtype=object)[rng.integers(0, len(WEB_USER_AGENTS), size=n)],
            dtype=pl.String,
        ),
        app_device=pl.Series(rng.integers(0, len(APP_DEVICES), size=n)),
    )


def _pick_device(
    devices: pl.DataFrame, pidx: np.ndarray, platform: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """A device row per visit: the person's primary device of that platform most of the time."""
    first = devices.group_by("pidx", "platform").agg(first=pl.col("device_row").min(), n=pl.len())
    keyed = pl.DataFrame({"pidx": pidx, "platform": pl.Series(platform, dtype=pl.String)}).join(
        first, on=["pidx", "platform"], how="left", maintain_order="left"
    )
    n = keyed["n"].to_numpy()
    offset = np.where(rng.random(len(pidx)) < 0.7, 0, (rng.random(len(pidx)) * n).astype(np.int64))
    return keyed["first"].to_numpy() + np.minimum(offset, n - 1)


def _choose_platform(
    people: pl.DataFrame, pidx: np.ndarray, rng: np.random.Generator, app_share: float
) -> np.ndarray:
    n_web = people["n_web_devices"].to_numpy()[pidx]
    n_app = people["n_app_devices"].to_numpy()[pidx]
    use_app = (n_app > 0) & ((rng.random(len(pidx)) < app_share) | (n_web == 0))
    return np.where(use_app, "app", "web").astype(object)


def _browse_sessions(people: pl.DataFrame, lifecycles: Lifecycles, rng: np.random.Generator) -> pl.DataFrame:
    """Visits without a purchase: shoppers while they are customers, prospects around their lead, visitors."""
    customers = (
        lifecycles.customers.join(people.select("pidx", "n_web_devices", "n_app_devices"), on="pidx")
        .filter((pl.col("n_web_devices") + pl.col("n_app_devices")) > 0)
        .sort("pidx")
    )
    shopper_from = np.maximum(customers["start"].to_numpy() - 30 * DAY, T0)
    shopper_to = np.minimum(customers["churned_at"].to_numpy(), T1 - 20 * DAY) + 20 * DAY
    shopper_rate = 0.02 * np.exp(0.6 * customers["engagement"].to_numpy())
    leads = lifecycles.leads.join(people.select("pidx", "engagement"), on="pidx").sort("pidx")
    lead_from = np.maximum(leads["created_at"].to_numpy() - 45 * DAY, T0)
    lead_to = np.minimum(
        np.where(leads["converted_at"].to_numpy() >= 0, leads["converted_at"].to_numpy(), T1), T1
    )
    lead_rate = 0.035 * np.exp(0.8 * leads["engagement"].to_numpy())
    visitors = people.filter(pl.col("segment") == "visitor")["pidx"].to_numpy()

    pidx = np.concatenate([customers["pidx"].to_numpy(), leads["pidx"].to_numpy(), visitors])
    start = np.concatenate([shopper_from, lead_from, np.full(len(visitors), T0)])
    end = np.concatenate([shopper_to, lead_to, np.full(len(visitors), T1)])
    rate = np.concatenate([shopper_rate, lead_rate, np.zeros(len(visitors))])
    counts = rng.poisson(rate * np.maximum(end - start, 0) / DAY)
    counts[len(pidx) - len(visitors) :] = rng.integers(1, 7, size=len(visitors))
    row = np.repeat(np.arange(len(pidx)), counts)
    return pl.DataFrame(
        {
            "pidx": pidx[row],
            "start": uniform_times(start[row], end[row], rng, WEB_HOURS),
            "n_views": 1 + np.minimum(rng.poisson(1.0, size=len(row)), 5),
            "adds": rng.random(len(row)) < 0.15,
        }
    )


def _frame(kind: int, pidx, device_row, ts, product_row=None, quantity=None, order_key=None) -> pl.DataFrame:
    n = len(pidx)
    return pl.DataFrame(
        {
            "kind": np.full(n, kind, dtype=np.int8),
            "pidx": pidx,
            "device_row": device_row,
            "ts": ts,
            "product_row": np.full(n, -1) if product_row is None else product_row,
            "quantity": np.zeros(n, dtype=np.int64) if quantity is None else quantity,
            "order_key": np.full(n, -1) if order_key is None else order_key,
        },
        schema_overrides={
            "pidx": pl.Int64,
            "device_row": pl.Int64,
            "ts": pl.Int64,
            "product_row": pl.Int64,
            "quantity": pl.Int64,
            "order_key": pl.Int64,
        },
    )


def _jitter(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, STEP_SECONDS - 5, size=n)


def simulate_clickstream(
    people: pl.DataFrame,
    lifecycles: Lifecycles,
    orders: pl.DataFrame,
    catalog: pl.DataFrame,
    account_ids: pl.DataFrame,
    rng: np.random.Generator,
) -> Clickstream:
    """Simulate every web and app visit of the window as an event skeleton.

    Args:
        people: the population.
        lifecycles: lead and customer lifecycles.
        orders: the order lines (online ones become purchase visits).
        catalog: the product catalogue.
        account_ids: `pidx, account_id, account_created` of web shop account holders.
        rng: the seeded generator.

    Returns:
        The devices and the event skeleton (see `Clickstream`), events inside the window only.
    """
    devices = _devices(people, rng)
    browse = _browse_sessions(people, lifecycles, rng)
    b_pidx = browse["pidx"].to_numpy()
    b_device = _pick_device(devices, b_pidx, _choose_platform(people, b_pidx, rng, 0.45), rng)
    b_start = browse["start"].to_numpy()
    n_views = browse["n_views"].to_numpy()
    parts = [_frame(LANDING, b_pidx, b_device, b_start + _jitter(len(b_pidx), rng))]
    rep = np.repeat(np.arange(len(b_pidx)), n_views)
    j = np.arange(len(rep)) - np.repeat(np.cumsum(n_views) - n_views, n_views)
    viewed = sample_products(people, b_pidx[rep], catalog, 0.7, rng)
    parts.append(
        _frame(
            PRODUCT_PAGE,
            b_pidx[rep],
            b_device[rep],
            b_start[rep] + (1 + 2 * j) * STEP_SECONDS + _jitter(len(rep), rng),
            viewed,
        )
    )
    parts.append(
        _frame(
            VIEWED,
            b_pidx[rep],
            b_device[rep],
            b_start[rep] + (2 + 2 * j) * STEP_SECONDS + _jitter(len(rep), rng),
            viewed,
        )
    )
    last_view = np.cumsum(n_views) - 1
    adds = np.flatnonzero(browse["adds"].to_numpy())
    parts.append(
        _frame(
            ADDED,
            b_pidx[adds],
            b_device[adds],
            b_start[adds] + (1 + 2 * n_views[adds]) * STEP_SECONDS,
            viewed[last_view[adds]],
            np.ones(len(adds), dtype=np.int64),
        )
    )

    online = orders.filter(pl.col("channel") == "online")
    heads = online.filter(pl.col("line_no") == 1)
    o_pidx = heads["pidx"].to_numpy()
    o_device = _pick_device(devices, o_pidx, heads["platform"].to_numpy().astype(object), rng)
    o_lines = heads["n_lines"].to_numpy()
    o_end = heads["ordered_at"].to_numpy()
    o_start = o_end - (3 + 3 * o_lines) * STEP_SECONDS
    o_key = heads["order_key"].to_numpy()
    parts.append(_frame(LANDING, o_pidx, o_device, o_start, order_key=o_key))
    device_of_order = np.full(int(orders["order_key"].max()) + 1 if orders.height else 0, -1)
    device_of_order[o_key] = o_device
    start_of_order = np.zeros(len(device_of_order), dtype=np.int64)
    start_of_order[o_key] = o_start
    l_key = online["order_key"].to_numpy()
    l_no = online["line_no"].to_numpy() - 1
    l_start = start_of_order[l_key]
    l_device = device_of_order[l_key]
    l_pidx = online["pidx"].to_numpy()
    l_product = online["product_row"].to_numpy()
    l_quantity = online["quantity"].to_numpy()
    for step, kind in ((1, PRODUCT_PAGE), (2, VIEWED), (3, ADDED)):
        ts = l_start + (step + 3 * l_no) * STEP_SECONDS + _jitter(len(l_key), rng)
        parts.append(
            _frame(kind, l_pidx, l_device, ts, l_product, l_quantity if kind == ADDED else None, l_key)
        )
    for step, kind in ((1, CHECKOUT_PAGE), (2, CHECKOUT_STARTED)):
        ts = o_start + (step + 3 * o_lines) * STEP_SECONDS + _jitter(len(o_key), rng)
        parts.append(_frame(kind, o_pidx, o_device, ts, order_key=o_key))
    parts.append(_frame(ORDER_COMPLETED, o_pidx, o_device, o_end, order_key=o_key))
    parts.append(_care_plans(people, online, catalog, device_of_order, rng))

    leads = lifecycles.leads
    f_pidx = leads["pidx"].to_numpy()
    f_device = _pick_device(devices, f_pidx, np.full(len(f_pidx), "web", dtype=object), rng)
    f_start = leads["form_at"].to_numpy() - 3 * STEP_SECONDS
    parts.append(_frame(LANDING, f_pidx, f_device, f_start))
    parts.append(_frame(CONTACT_PAGE, f_pidx, f_device, f_start + STEP_SECONDS))
    parts.append(_frame(IDENTIFY_FORM, f_pidx, f_device, f_start + 2 * STEP_SECONDS))

    events = pl.concat(parts)
    devices = _logins(devices, events, account_ids, rng)
    login = devices.filter(pl.col("identify_at") >= 0)
    parts.append(
        _frame(
            IDENTIFY_LOGIN,
            login["pidx"].to_numpy(),
            login["device_row"].to_numpy(),
            login["identify_at"].to_numpy(),
        )
    )
    events = (
        pl.concat([events, parts[-1]])
        .join(devices.select("device_row", "platform", "identify_at", "account_id"), on="device_row")
        .with_columns(
            user_id=pl.when((pl.col("identify_at") >= 0) & (pl.col("ts") >= pl.col("identify_at"))).then(
                "account_id"
            )
        )
        .filter(pl.col("ts").is_between(T0, T1))
        .drop("identify_at", "account_id")
    )
    return Clickstream(devices=devices, events=events)


def _care_plans(
    people: pl.DataFrame,
    online: pl.DataFrame,
    catalog: pl.DataFrame,
    device_of_order: np.ndarray,
    rng: np.random.Generator,
) -> pl.DataFrame:
    """Care plans bought a step after online orders with gear in them, on the order's device."""
    # Its own stream, spawned from the demo's seed: the rest of the demo draws what it drew before.
    own = np.random.default_rng(rng.bit_generator.seed_seq.spawn(1)[0])
    careful = own.random(int(people["pidx"].max()) + 1 if people.height else 0) < CARE_PLAN_CAREFUL_SHARE
    gear = catalog.with_row_index("product_row").filter(pl.col("category").is_in(CARE_PLAN_CATEGORIES))
    orders = (
        online.filter(
            pl.col("product_row").is_in(gear["product_row"].cast(online["product_row"].dtype).implode())
        )
        .group_by("order_key")
        .agg(pl.col("pidx").first(), pl.col("ordered_at").first())
        .sort("order_key")
    )
    pidx = orders["pidx"].to_numpy()
    rate = np.where(careful[pidx], CARE_PLAN_RATES[1], CARE_PLAN_RATES[0])
    chosen = orders.filter(pl.Series(own.random(orders.height) < rate))
    keys = chosen["order_key"].to_numpy()
    return _frame(
        CARE_PLAN,
        chosen["pidx"].to_numpy(),
        device_of_order[keys],
        chosen["ordered_at"].to_numpy() + STEP_SECONDS,
        order_key=keys,
    )


def _logins(
    devices: pl.DataFrame, events: pl.DataFrame, account_ids: pl.DataFrame, rng: np.random.Generator
) -> pl.DataFrame:
    """When each device of an account holder first logs in (its identify call), if ever."""
    visits = (
        events.filter(pl.col("kind") == LANDING)
        .join(account_ids, on="pidx")
        .group_by("device_row")
        .agg(
            first_after=pl.col("ts").filter(pl.col("ts") >= pl.col("account_created")).min(),
            first_purchase=pl.col("ts").filter(pl.col("order_key") >= 0).min(),
        )
        .sort("device_row")
    )
    logs_in = rng.random(visits.height) < LOGIN_RATE
    visits = visits.with_columns(
        login=pl.min_horizontal(
            pl.when(pl.Series(logs_in)).then(pl.col("first_after")).otherwise(None), pl.col("first_purchase")
        )
    )
    return (
        devices.join(visits.select("device_row", "login"), on="device_row", how="left")
        .join(account_ids.select("pidx", "account_id"), on="pidx", how="left")
        .with_columns(
            identify_at=pl.when(pl.col("login").is_not_null() & pl.col("account_id").is_not_null())
            .then(pl.col("login") + 2)
            .otherwise(-1),
        )
        .with_columns(account_id=pl.when(pl.col("identify_at") >= 0).then("account_id"))
        .drop("login")
        .sort("device_row")
    )
