"""Report labels in Chinese (default) and English."""

from __future__ import annotations

from typing import Literal

_LABELS: dict[str, dict[str, str]] = {
    "title": {"zh": "数据上报质量月报", "en": "Monthly submission quality report"},
    "month": {"zh": "统计月份", "en": "Month"},
    "generated": {"zh": "生成时间", "en": "Generated"},
    "partial_month": {"zh": "月度未完，截至", "en": "partial month, up to"},
    "summary": {"zh": "总体情况", "en": "Summary"},
    "institution": {"zh": "机构", "en": "Institution"},
    "code": {"zh": "机构代码", "en": "Code"},
    "rank": {"zh": "排名", "en": "Rank"},
    "score": {"zh": "综合得分", "en": "Score"},
    "prev_score": {"zh": "上期得分", "en": "Previous"},
    "score_delta": {"zh": "较上期", "en": "Change"},
    "expected": {"zh": "应报", "en": "Expected"},
    "received": {"zh": "实报", "en": "Received"},
    "missing": {"zh": "缺报", "en": "Missing"},
    "late": {"zh": "迟报", "en": "Late"},
    "zero_reports": {"zh": "零报告", "en": "Zero reports"},
    "completeness": {"zh": "上报完整率%", "en": "Completeness %"},
    "timeliness": {"zh": "及时率%", "en": "Timeliness %"},
    "median_delay_hours": {"zh": "延迟中位数(小时)", "en": "Median delay (h)"},
    "field_completeness": {"zh": "字段完整率%", "en": "Field completeness %"},
    "validity": {"zh": "校验通过率%", "en": "Validity %"},
    "mapping_rate": {"zh": "编码映射率%", "en": "Code mapping %"},
    "consistency": {"zh": "跨源一致率%", "en": "Consistency %"},
    "duplicates": {"zh": "重复上报", "en": "Duplicates"},
    "corrected": {"zh": "更正重报", "en": "Corrected"},
    "quarantined": {"zh": "隔离记录", "en": "Quarantined rows"},
    "heatmap": {"zh": "机构×日期 上报情况", "en": "Submissions by institution and day"},
    "trend": {"zh": "每日完整率与及时率趋势", "en": "Daily completeness and timeliness"},
    "ranking": {"zh": "机构得分与排名", "en": "Institution scores and ranking"},
    "failing_checks": {"zh": "未通过的校验规则", "en": "Failing checks"},
    "missing_list": {"zh": "缺报、迟报、零报告清单", "en": "Missing, late and zero submissions"},
    "dataset": {"zh": "数据集", "en": "Dataset"},
    "day": {"zh": "日期", "en": "Day"},
    "state": {"zh": "状态", "en": "State"},
    "check": {"zh": "校验规则", "en": "Check"},
    "category": {"zh": "维度", "en": "Category"},
    "severity": {"zh": "级别", "en": "Severity"},
    "failing": {"zh": "不合格数", "en": "Failing"},
    "rows": {"zh": "记录数", "en": "Rows"},
    "pct": {"zh": "不合格率%", "en": "Failing %"},
    "example": {"zh": "示例原因", "en": "Example reason"},
    "legend_ok": {"zh": "按时", "en": "On time"},
    "legend_zero": {"zh": "零报告", "en": "Zero report"},
    "legend_late": {"zh": "迟报", "en": "Late"},
    "legend_missing": {"zh": "缺报", "en": "Missing"},
    "legend_partial": {"zh": "部分缺报", "en": "File missing"},
    "state_partial": {"zh": "部分文件未到", "en": "declared file missing"},
    "state_zero": {"zh": "零报告", "en": "explicit zero report"},
    "partial": {"zh": "部分缺报", "en": "Partial"},
    "absent_files": {"zh": "已声明未送达的文件", "en": "Declared files not delivered"},
    "file": {"zh": "文件", "en": "File"},
    "declared_count": {"zh": "声明条数", "en": "Declared rows"},
    "legend_none": {"zh": "无应报", "en": "Not expected"},
    "state_missing": {"zh": "缺报", "en": "missing"},
    "state_late": {"zh": "迟报", "en": "late"},
    "sort_hint": {"zh": "点击表头排序", "en": "Click a header to sort"},
    "weights": {"zh": "得分权重", "en": "Score weights"},
}


def labels(lang: Literal["zh", "en"] = "zh") -> dict[str, str]:
    if lang not in ("zh", "en"):
        raise ValueError(f"lang must be 'zh' or 'en', got {lang!r}")
    return {k: v[lang] for k, v in _LABELS.items()}
