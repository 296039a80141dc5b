"""Seed a PostgreSQL database with an office of a million assets and ten million asset events, in
set-based SQL (generate_series), for bench_web.py. Minutes, not hours: the secondary indexes are
dropped during the load and built again after it, exactly as the migrations define them.

    .venv/bin/python bench/seed_assets.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/ag_bench_web \
        [--assets 1000000] [--events 10000000]

The database is created (dropped first if it exists) and migrated. The rows are what the
application itself writes: valid codes with their check symbols (also in ``issued_codes``),
unique serial numbers, statuses, places, custodians, purchases on plan lines, and histories of
about ten events per asset (moves, check-outs, maintenance with its cost, some late ones). The
histories are for reading only: they do not replay into the assets' states.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from contract.codes import ALPHABET, CHECK_ALPHABET
from server.db import make_engine
from server.migrate import upgrade

# (category, controlled, product names): the names people type into the search box.
CATALOGUE: list[tuple[str, bool, list[str]]] = [
    ("笔记本电脑", False, ["联想 ThinkPad X1 Carbon", "联想 ThinkPad T14", "戴尔 Latitude 7450", "华为 MateBook 14",
                       "惠普 EliteBook 840", "联想 昭阳 K4e"]),
    ("台式计算机", False, ["联想 启天 M437", "戴尔 OptiPlex 7010", "华为 擎云 B730", "清华同方 超翔 TZ830"]),
    ("显示器", False, ["戴尔 P2422H 显示器", "AOC 24B2XH 显示器", "飞利浦 241V8 显示器"]),
    ("打印机", False, ["惠普 LaserJet M1136 打印机", "奔图 P3301DN 打印机", "兄弟 HL-2260D 打印机",
                    "佳能 LBP2900 打印机"]),
    ("复印机", False, ["佳能 iR2625 复印机", "理光 MP 2014 复印机", "京瓷 TASKalfa 2020 复印机"]),
    ("投影仪", False, ["爱普生 CB-X06 投影仪", "明基 MX560 投影仪"]),
    ("空调", False, ["格力 KFR-35GW 空调", "美的 KFR-26GW 空调", "海尔 KFR-72LW 柜式空调"]),
    ("办公桌椅", False, ["办公桌 1.4米", "办公椅 网布", "会议桌 3.6米", "会议椅", "文件柜 五节"]),
    ("电话传真", False, ["华为 IP 电话 7910", "松下 KX-FL338 传真机"]),
    ("网络设备", False, ["华为 S5735 交换机", "TP-LINK 路由器 ER3220G", "深信服 防火墙 AF-1000"]),
    ("照相摄像", False, ["佳能 EOS 90D 相机", "索尼 FDR-AX60 摄像机"]),
    ("碎纸机", False, ["得力 9935 碎纸机", "科密 C-638 碎纸机"]),
    ("公章", True, ["单位公章", "合同专用章", "财务专用章"]),
    ("执法记录仪", True, ["执法记录仪 DSJ-A8", "执法记录仪 DSJ-V9"]),
    ("车辆钥匙", True, ["公务用车钥匙"]),
]
DEPARTMENTS = ["办公室", "财务科", "人事科", "综合科", "法规科", "信息中心", "后勤服务中心", "档案室", "执法大队",
               "审批科", "规划科", "宣传科"]
LOCATIONS = 2000  # rooms; a store has shelves among them
PEOPLE = 5000
PLAN_LINES = 240
PURCHASES = 600


def _body_sql(number: str) -> str:
    """SQL for the 8-character Crockford base32 body of ``number`` (a bigint expression) and its check."""
    digits = " || ".join(f"substr('{ALPHABET}', ((({number}) >> {5 * k}) & 31)::int + 1, 1)" for k in range(7, -1, -1))
    return f"({digits} || substr('{CHECK_ALPHABET}', (({number}) % 37)::int + 1, 1))"


def _scrambled(i: str, salt: int) -> str:
    """A bijection of 1..2**40 (odd multiplier mod 2**40): codes look random, never repeat."""
    return f"((({i})::bigint * 1099511627 + {salt}) & 1099511627775)"


def seed(url: str, n_assets: int, n_events: int) -> dict[str, float]:
    _recreate(url)
    engine = make_engine(url)
    upgrade(engine)
    timings: dict[str, float] = {}
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL synchronous_commit = off"))
        conn.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
        conn.execute(text("SET LOCAL work_mem = '64MB'"))
        dropped = _drop_secondary_indexes(conn, ("assets", "asset_events", "issued_codes"))
        started = time.perf_counter()
        _reference_data(conn)
        _assets(conn, n_assets)
        timings["assets"] = time.perf_counter() - started
        started = time.perf_counter()
        _events(conn, n_assets, n_events)
        timings["events"] = time.perf_counter() - started
        started = time.perf_counter()
        for statement in dropped:
            conn.execute(text(statement))
        timings["indexes"] = time.perf_counter() - started
    started = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))  # visibility map and statistics, as a settled database has
    timings["vacuum"] = time.perf_counter() - started
    engine.dispose()
    return timings


def _recreate(url: str) -> None:
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


def _drop_secondary_indexes(conn: Any, tables: tuple[str, ...]) -> list[str]:
    """Drop the indexes that are not constraints; return the statements that build them again."""
    rows = conn.execute(text("""
        SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.schemaname = 'public' AND i.tablename = ANY(:tables)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"""),
                        {"tables": list(tables)}).all()
    for name, _ in rows:
        conn.execute(text(f'DROP INDEX "{name}"'))
    return [definition for _, definition in rows]


def _reference_data(conn: Any) -> None:
    for number, (name, controlled, _) in enumerate(CATALOGUE, 1):
        conn.execute(text("INSERT INTO categories (id, name, controlled) VALUES (:id, :name, :controlled)"),
                     {"id": number, "name": name, "controlled": controlled})
    kinds = "(ARRAY['office','office','office','meeting_room','storeroom','shelf','shelf','bin','site','other'])"
    conn.execute(text(f"""
        INSERT INTO locations (id, code, name, kind, parent_id, created_at)
        SELECT g, 'L-' || {_body_sql(_scrambled('g', 17))},
               CASE WHEN g % 10 = 4 THEN '库房 ' || g ELSE (g % 12 + 1) || '号楼 ' || (100 + g % 500) || ' 室' END,
               {kinds}[g % 10 + 1], NULL, now() - interval '3 years'
        FROM generate_series(1, {LOCATIONS}) g"""))
    conn.execute(text("UPDATE locations SET parent_id = id - 1 WHERE kind IN ('shelf', 'bin') AND id > 1"))
    departments = "ARRAY[" + ",".join(f"'{d}'" for d in DEPARTMENTS) + "]"
    conn.execute(text(f"""
        INSERT INTO people (id, code, name, department, active, created_at)
        SELECT g, 'P-' || {_body_sql(_scrambled('g', 29))},
               (ARRAY['王','李','张','刘','陈','杨','赵','黄','周','吴'])[g % 10 + 1]
                 || (ARRAY['伟','芳','娜','敏','静','丽','强','磊','军','洋','勇','艳','杰','涛'])[g % 14 + 1]
                 || CASE WHEN g % 3 = 0 THEN (ARRAY['华','明','红','平'])[g % 4 + 1] ELSE '' END,
               ({departments})[g % {len(DEPARTMENTS)} + 1], g % 50 <> 0, now() - interval '3 years'
        FROM generate_series(1, {PEOPLE}) g"""))
    conn.execute(text(f"""
        INSERT INTO plan_lines (id, ref, budget_year, department, category_id, approved_qty, unit_price_cap,
                                approved_amount, method, approval_ref, created_at)
        SELECT g, (2016 + g % 11) || '-' || lpad(g::text, 4, '0'), 2016 + g % 11, ({departments})[g % 12 + 1],
               g % {len(CATALOGUE)} + 1, 100000, 20000, 2000000000,
               (ARRAY['online_inquiry','self_purchase','framework_agreement','public_tender'])[g % 4 + 1],
               '财资〔' || (2016 + g % 11) || '〕' || g || '号', now() - interval '3 years'
        FROM generate_series(1, {PLAN_LINES}) g"""))
    conn.execute(text(f"""
        INSERT INTO purchases (id, supplier, purchased_on, method, reference, actor, created_at)
        SELECT g, (ARRAY['北京京东世纪贸易有限公司','联想（北京）有限公司','苏宁易购集团','国美电器有限公司',
                          '得力集团有限公司'])[g % 5 + 1],
               DATE '2016-01-15' + (g * 6), 'framework_agreement', 'INV-' || (100000 + g), 'seed', now()
        FROM generate_series(1, {PURCHASES}) g"""))
    conn.execute(text(f"""
        INSERT INTO purchase_lines (id, purchase_id, plan_line_id, category_id, description, quantity, unit_price,
                                    amount)
        SELECT g, g, (g % {PLAN_LINES}) + 1, (g % {PLAN_LINES}) % {len(CATALOGUE)} + 1, '批量采购', 2000,
               1000 + g % 50 * 100, 2000 * (1000 + g % 50 * 100)
        FROM generate_series(1, {PURCHASES}) g"""))


def _assets(conn: Any, n: int) -> None:
    """Every asset in one INSERT ... SELECT; the columns derive from its number, spread like an office."""
    names = [f"{cat_id}:{name}" for cat_id, (_, _, products) in enumerate(CATALOGUE, 1) for name in products]
    name_array = "(ARRAY[" + ",".join("'" + n.split(":", 1)[1] + "'" for n in names) + "])"
    cat_array = "(ARRAY[" + ",".join(n.split(":", 1)[0] for n in names) + "])"
    departments = "ARRAY[" + ",".join(f"'{d}'" for d in DEPARTMENTS) + "]"
    conn.execute(text(f"""
        INSERT INTO assets (id, code, name, category_id, serial, status, location_id, custodian_id, department,
                            purchase_line_id, intake_id, price, acquired_on, due_at, state_at, created_at, updated_at)
        SELECT g, 'A-' || {_body_sql(_scrambled('g', 5))},
               {name_array}[p] || CASE WHEN g % 4 = 0 THEN ' ' || (g % 97) || '号' ELSE '' END,
               {cat_array}[p],
               CASE WHEN g % 5 <> 0 THEN 'SN' || upper(to_hex(g::bigint * 7919 + 268435456)) END,
               s.status,
               CASE WHEN s.status <> 'disposed' THEN (g * 7 % {LOCATIONS}) + 1 END,
               CASE WHEN s.status = 'in_use' AND g % 10 < 7 THEN (g * 13 % {PEOPLE}) + 1 END,
               ({departments})[g % {len(DEPARTMENTS)} + 1],
               CASE WHEN g % 5 < 3 THEN (g % {PURCHASES}) + 1 END, NULL,
               CASE WHEN g % 20 <> 0 THEN round((100 + (g * 37 % 19900))::numeric, 2) END,
               CASE WHEN g % 10 <> 0 THEN DATE '2015-01-01' + (g * 11 % 4300) END,
               CASE WHEN s.status = 'in_use' AND g % 50 = 0 THEN now() + ((g % 30) - 10) * interval '1 day' END,
               now() - (g % 1000) * interval '1 hour', now() - interval '3 years', now()
        FROM generate_series(1, {n}) g
        CROSS JOIN LATERAL (SELECT (g * 7 % {len(names)}) + 1 AS p) pick
        CROSS JOIN LATERAL (SELECT CASE WHEN g % 100 < 60 THEN 'in_use' WHEN g % 100 < 90 THEN 'in_storage'
                                        WHEN g % 100 < 93 THEN 'under_repair' ELSE 'disposed' END AS status) s"""))
    conn.execute(text("INSERT INTO issued_codes (code, kind, issued_at) SELECT code, 'A', created_at FROM assets"))
    conn.execute(text("INSERT INTO issued_codes (code, kind, issued_at) SELECT code, 'L', created_at FROM locations"))
    conn.execute(text("INSERT INTO issued_codes (code, kind, issued_at) SELECT code, 'P', created_at FROM people"))
    for table in ("assets", "locations", "people", "categories", "plan_lines", "purchases", "purchase_lines"):
        conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))


def _events(conn: Any, n_assets: int, n_events: int) -> None:
    """About ``n_events`` history rows: each asset gets 1 to 2*k-1 events (k = events per asset), the
    first its registration, then moves, check-outs and check-ins, maintenance and repairs."""
    per = max(1, round(n_events / n_assets))
    conn.execute(text(f"""
        INSERT INTO asset_events (asset_id, type, at, recorded_at, actor, source, kiosk, seq, kiosk_event_id,
                                  from_status, to_status, from_location_id, to_location_id, custodian_id, reason,
                                  applied, data)
        SELECT a.id, t.type, a.created_at + e * interval '1 day', a.created_at + e * interval '1 day',
               CASE WHEN e % 3 = 0 THEN 'kiosk:K' || (a.id % 40) ELSE 'storekeeper' || (a.id % 8) END,
               CASE WHEN e % 3 = 0 THEN 'kiosk:K' || (a.id % 40) ELSE 'web' END,
               CASE WHEN e % 3 = 0 THEN 'K' || (a.id % 40) END, CASE WHEN e % 3 = 0 THEN a.id * 100 + e END, NULL,
               CASE WHEN e = 1 THEN NULL ELSE 'in_storage' END, 'in_storage',
               CASE WHEN e = 1 THEN NULL ELSE ((a.id + e - 1) * 7 % {LOCATIONS}) + 1 END,
               ((a.id + e) * 7 % {LOCATIONS}) + 1,
               CASE WHEN t.type = 'asset.checkout' THEN (a.id * 13 % {PEOPLE}) + 1 END,
               CASE WHEN e % 4 = 0 THEN '日常调整' ELSE '' END, e % 97 <> 0,
               CASE WHEN t.type = 'asset.maintenance'
                    THEN json_build_object('date', '2024-05-01', 'vendor', '维保公司', 'cost', (e * 35)::text || '.00',
                                           'description', '例行保养')
                    ELSE '{{}}'::json END
        FROM assets a
        CROSS JOIN LATERAL generate_series(1, 1 + (a.id::bigint * 7919) % {2 * per - 1}) e
        CROSS JOIN LATERAL (SELECT CASE WHEN e = 1 THEN 'asset.create'
                                        ELSE (ARRAY['asset.move','asset.checkout','asset.checkin','asset.move',
                                                    'asset.maintenance','asset.repair','asset.repaired',
                                                    'asset.move'])[(a.id + e) % 8 + 1] END AS type) t
        WHERE a.id <= {n_assets}"""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/ag_bench_web")
    parser.add_argument("--assets", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    args = parser.parse_args()
    if not args.database_url.startswith("postgresql"):
        parser.error("the seed is PostgreSQL SQL")
    started = time.perf_counter()
    timings = seed(args.database_url, args.assets, args.events)
    print(f"seeded {args.assets:,} assets, about {args.events:,} events in {time.perf_counter() - started:.0f} s: "
          + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))


if __name__ == "__main__":
    main()
