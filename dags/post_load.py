"""Airflow DAGs downstream of the sources, each scheduled on the Assets it reads. Wiring only."""

from plugins.rhp_airflow.common import (
    FEED_ASSET_URI,
    INDICATORS_ASSET_URI,
    MARTS_ASSET_URI,
    QUALITY_ASSET_URI,
    RECOGNITION_INDEX_ASSET_URI,
    SOURCES,
    source_asset_uri,
)
from plugins.rhp_airflow.post_load_dag import build_post_load_dag

marts = build_post_load_dag(
    "rhp_marts", "code_systems", [source_asset_uri(s) for s in SOURCES], MARTS_ASSET_URI, "warehouse",
    "Reference data (code systems, dates) and mart bookkeeping after any source load.",
)
recognition_index = build_post_load_dag(
    "rhp_recognition_index", "recognition_index", [MARTS_ASSET_URI], RECOGNITION_INDEX_ASSET_URI,
    "recognition", "Incremental refresh of the 互认 lookup index.",
)
indicators = build_post_load_dag(
    "rhp_indicators", "indicators", [MARTS_ASSET_URI, RECOGNITION_INDEX_ASSET_URI], INDICATORS_ASSET_URI,
    "indicators", "Compute every declared indicator for the periods touched, keeping history.",
)
quality_report = build_post_load_dag(
    "rhp_quality_report", "quality_report", [MARTS_ASSET_URI], QUALITY_ASSET_URI, "quality",
    "Submission completeness and timeliness report per institution.",
)
ops_feed = build_post_load_dag(
    "rhp_ops_feed", "ops_feed", [INDICATORS_ASSET_URI], FEED_ASSET_URI, "feed",
    "Versioned, de-identified feed for the operations decision system (运营决策).",
)
