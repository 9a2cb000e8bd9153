"""The paper's published numbers (Tables 1–4), to set our results beside.

All of Tables 1–3 are on normalised [0, 1] maps with the paper's six measures as printed (eqs. 2–7;
"paper" protocol). Two columns cannot come from the printed formulas (see ``paper-spec.md``): SRD
exceeds ARD everywhere (impossible for eq. 7 on [0, 1] maps, where (y−y′)² ≤ |y−y′|), and Table 3's
ARD is below its MSE (impossible for eq. 4 when y′ ≤ 1). Our numbers will not match those; we say so.
"""

from __future__ import annotations

#: The paper's measure names, in its row order.
PAPER_MEASURES = ("RMSE", "MSE", "ARD", "LRMSE", "LRMSE-SI", "SRD")

#: Table 1: KITTI, 147×37 grayscale, stereo (ELAS) targets, normalised maps.
TABLE1: dict[str, dict[str, float]] = {
    "AH": {"RMSE": 0.1496, "MSE": 0.0260, "ARD": 0.4540, "LRMSE": 0.3377, "LRMSE-SI": 0.2068, "SRD": 0.9865},
    "C": {"RMSE": 0.1301, "MSE": 0.0193, "ARD": 0.5858, "LRMSE": 0.3618, "LRMSE-SI": 0.2269, "SRD": 1.1982},
    "SC": {"RMSE": 0.1082, "MSE": 0.0132, "ARD": 0.4813, "LRMSE": 0.3048, "LRMSE-SI": 0.1816, "SRD": 0.8678},
    "SCRX": {
        "RMSE": 0.1051,
        "MSE": 0.0124,
        "ARD": 0.4625,
        "LRMSE": 0.3081,
        "LRMSE-SI": 0.1820,
        "SRD": 0.8016,
    },
    "SCRXU": {
        "RMSE": 0.1218,
        "MSE": 0.0166,
        "ARD": 0.4661,
        "LRMSE": 0.3239,
        "LRMSE-SI": 0.1980,
        "SRD": 0.9528,
    },
    "SCRDU": {
        "RMSE": 0.1348,
        "MSE": 0.0213,
        "ARD": 0.4350,
        "LRMSE": 0.3260,
        "LRMSE-SI": 0.1931,
        "SRD": 0.9303,
    },
}

#: Table 2: improved SCRX on KITTI at 310×94, grayscale vs colour.
TABLE2: dict[str, dict[str, float]] = {
    "gray": {
        "RMSE": 0.0964,
        "MSE": 0.0110,
        "ARD": 0.3539,
        "LRMSE": 0.2814,
        "LRMSE-SI": 0.1588,
        "SRD": 0.5371,
    },
    "rgb": {"RMSE": 0.0881, "MSE": 0.0091, "ARD": 0.3434, "LRMSE": 0.2726, "LRMSE-SI": 0.1494, "SRD": 0.5326},
}

#: Table 3: improved SCRX on NYU Depth v2 at 320×240, grayscale vs colour.
TABLE3: dict[str, dict[str, float]] = {
    "gray": {
        "RMSE": 0.2138,
        "MSE": 0.0478,
        "ARD": 0.0334,
        "LRMSE": 0.3181,
        "LRMSE-SI": 0.2376,
        "SRD": 1.3493,
    },
    "rgb": {"RMSE": 0.2117, "MSE": 0.0473, "ARD": 0.0205, "LRMSE": 0.2915, "LRMSE-SI": 0.2225, "SRD": 0.7574},
}

#: Table 4 (NYU, other papers in metres beside the paper's normalised values — not comparable).
TABLE4_METRES: dict[str, dict[str, float]] = {
    "Eigen et al. 2014": {"RMSE": 0.877, "ARD": 0.214, "LRMSE": 0.283},
    "Eigen et al. 2015": {"RMSE": 0.641, "ARD": 0.158, "LRMSE": 0.214},
    "Lee et al. 2018": {"RMSE": 0.572, "ARD": 0.132, "LRMSE": 0.193},
}

#: Known impossibilities of the printed values, keyed by table, explained in every report.
INCONSISTENCIES = (
    "SRD > ARD in every column of Tables 1–3, which eq. 7 cannot give on [0, 1] maps "
    "((y−y′)² ≤ |y−y′| there, so SRD ≤ ARD pixel by pixel).",
    "Table 3's ARD (0.0334 / 0.0205) is below its MSE (0.0478 / 0.0473), which eq. 4 cannot give "
    "when predictions are ≤ 1 (|y−y′|/y′ ≥ |y−y′| ≥ (y−y′)²).",
    "MSE > RMSE² in every column: the tables average per image (mean of per-image RMSEs), which we "
    "also do by default.",
    "Table 4 sets the paper's normalised RMSEs beside other papers' metres: not comparable.",
)

TABLES: dict[str, dict[str, dict[str, float]]] = {"table1": TABLE1, "table2": TABLE2, "table3": TABLE3}
