"""Built-in protocol presets (plain data, read by the registry).  Dataset-specific presets cite the code they reproduce."""

from __future__ import annotations

from corrbench.eval.protocol import Protocol

_BUILTIN: list[Protocol] = []


def _add(protocol: Protocol) -> Protocol:
    """Collect a built-in preset (the registry reads :data:`BUILTIN_PRESETS`)."""
    _BUILTIN.append(protocol)
    return protocol


SYNTHETIC = _add(
    Protocol(
        name="synthetic",
        description=(
            "Embedded benchmark: original resolution, target->source transfer, "
            "L = max side of the SOURCE object box, error <= alpha*L."
        ),
        direction="trg_to_src",
        threshold="bbox",
        threshold_side="source",
        alphas=(0.01, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2),
        datasets=("synthetic",),
    )
)


# --- PF-PASCAL, PF-WILLOW, SPair-71k and Internet -------------------------------------------
# Every description cites the code it reproduces (aliases and line numbers in the dataset spec,
# ../shared/specs/datasets.md §0-§4).  A family registered as "<family>/<dataset>" is found by
# get_protocol("<family>", dataset=...).
SPAIR_DIFFICULTY = ("viewpoint_variation", "scale_variation", "truncation", "occlusion")
DM_ALPHAS = (0.01, 0.05, 0.1, 0.15)
NEMF_ALPHAS = (0.01, 0.03, 0.05, 0.07, 0.1, 0.15)


def _preset(name: str, description: str, **fields) -> Protocol:
    dataset = name.split("/", 1)[1]
    return _add(Protocol(name=name, description=description, datasets=(dataset,), **fields))


# DenseMatching (PruneTruong/DenseMatching): the corrbench default for keypoint benchmarks.
_DM = "DenseMatching run_evaluation_semantic (evaluate_per_dataset.py L448-473): original pixels, target->source, "
_preset("densematching/pfpascal", _DM + "L = max(H,W) of the SOURCE image, <=, flow read at the rounded target keypoint; per-image and pooled PCK, per class at 0.1.",
        direction="trg_to_src", threshold="image", threshold_side="source", alphas=DM_ALPHAS, query_rounding="round_offset")
_preset("densematching/pfwillow", _DM + "L = extent max(x range, y range) of the 10 SOURCE keypoints (correct, no -1 pads; pfwillow.py L93-100), <=.",
        direction="trg_to_src", threshold="kps_extent", threshold_side="source", alphas=DM_ALPHAS, query_rounding="round_offset")
_preset("densematching/spair", _DM + "L = max(w,h) of the SOURCE box, <=; per class and per difficulty flag (viewpoint, scale, truncation, occlusion) at 0.1.",
        direction="trg_to_src", threshold="bbox", threshold_side="source", alphas=DM_ALPHAS, query_rounding="round_offset", buckets=SPAIR_DIFFICULTY)

# CATs (SunghwanHong/Cost-Aggregation-transformers): 256x256 anisotropic frame, source side.
_CT = "CATs (data/dataset.py L104-212, evaluation.py L91-101): 256x256 anisotropic resize, target->source, query keypoints truncated (.long()), <=, "
_preset("cats/pfpascal", _CT + "L = 256 (source image side).",
        direction="trg_to_src", threshold="image", threshold_side="source", frame="square", frame_size=256, query_rounding="trunc")
_preset("cats/pfwillow", _CT + "L = extent of the SOURCE keypoints at 256 computed correctly (CATs' own -1 pad bug: see cats_pad_bug/pfwillow).",
        direction="trg_to_src", threshold="kps_extent", threshold_side="source", frame="square", frame_size=256, query_rounding="trunc")
_preset("cats_pad_bug/pfwillow", "LEGACY, inflated: " + _CT + "L = extent over SOURCE keypoints padded with -1 (= max(max_x,max_y)+1; data/pfwillow.py L40-58), as in CATs' published PF-WILLOW numbers.",
        direction="trg_to_src", threshold="kps_extent", threshold_side="source", frame="square", frame_size=256, query_rounding="trunc", extent_pad_bug=True)
_preset("cats/spair", _CT + "L = max(w,h) of the SOURCE box scaled to 256.",
        direction="trg_to_src", threshold="bbox", threshold_side="source", frame="square", frame_size=256, query_rounding="trunc", alphas=(0.1,))

# DHPF (juhongm999/dhpf): 240x240 anisotropic frame, source->target, target side.
_DH = "DHPF (data/dataset.py L67-148, common/evaluation.py L78-88): 240x240 anisotropic resize, source->target, <=, "
_preset("dhpf/pfpascal", _DH + "L = 240 (target image side, --thres img).",
        direction="src_to_trg", threshold="image", threshold_side="target", frame="square", frame_size=240)
_preset("dhpf_bbox/pfpascal", _DH + "L = max(w,h) of the TARGET box at 240 (--thres bbox; boxes from the .mat annotations).",
        direction="src_to_trg", threshold="bbox", threshold_side="target", frame="square", frame_size=240, alphas=(0.1,))
_preset("dhpf/pfwillow", _DH + "L = extent of the TARGET keypoints at 240 computed correctly (DHPF's -1 pad bug: see dhpf_pad_bug/pfwillow).",
        direction="src_to_trg", threshold="kps_extent", threshold_side="target", frame="square", frame_size=240, alphas=(0.1,))
_preset("dhpf_pad_bug/pfwillow", "LEGACY, inflated: " + _DH + "L = extent over TARGET keypoints padded with -1 (= max(max_x,max_y)+1; data/pfwillow.py L39-58), as in DHPF's published PF-WILLOW numbers.",
        direction="src_to_trg", threshold="kps_extent", threshold_side="target", frame="square", frame_size=240, alphas=(0.1,), extent_pad_bug=True)
_preset("dhpf/spair", _DH + "L = max(w,h) of the TARGET box at 240 (data/spair.py L44-46).",
        direction="src_to_trg", threshold="bbox", threshold_side="target", frame="square", frame_size=240, alphas=(0.1,))

# NCNet 'scnet' PCK (ignacio-rocco/ncnet lib/eval_util.py L12-24; weakalign; MaCoSNet).
_preset("ncnet_scnet/pfpascal", "NCNet/WeakAlign 'scnet' PCK (ncnet lib/pf_dataset.py L88-112, eval_pf_pascal.py L84-89): 224x224 anisotropic frame, target->source, L = 224, <=, alpha 0.1.",
        direction="trg_to_src", threshold="frame", frame="square", frame_size=224, alphas=(0.1,))
_preset("ncnet_scnet/pfwillow", "MaCoSNet's PF-WILLOW PCK (data/pf_willow.py L34, L69-86): 224x224 frame, target->source, L = 224, <=, alpha 0.1; MaCoSNet evaluates its 450-pair list (pfwillow pair_list=macosnet450).",
        direction="trg_to_src", threshold="frame", frame="square", frame_size=224, alphas=(0.1,))

# WeakAlign 'pf' PCK: keypoint extent at original resolution.
_WA = "WeakAlign 'pf' PCK (data/pf_dataset.py L51-52, L141-142): original pixels, target->source, L = extent max(x range, y range) of the SOURCE keypoints, <=, alpha 0.1."
_preset("weakalign_pf/pfpascal", _WA, direction="trg_to_src", threshold="kps_extent", threshold_side="source", alphas=(0.1,))
_preset("weakalign_pf/pfwillow", _WA, direction="trg_to_src", threshold="kps_extent", threshold_side="source", alphas=(0.1,))

# SFNet (cvlab-yonsei/SFNet eval_pascal.py / eval_willow.py).
_preset("sfnet/pfpascal", "SFNet eval_pascal.py (L19, L76-117; eval_type image_size): 288x288 anisotropic frame, target->source, flow read at the rounded target keypoint, L = 288, <=, alpha 0.1.",
        direction="trg_to_src", threshold="frame", frame="square", frame_size=288, query_rounding="round", alphas=(0.1,))
_preset("sfnet/pfwillow", "SFNet eval_willow.py (L69-104; custom_dataset.py L227-228): original pixels, target->source, rounded target keypoint, L = extent of the SOURCE keypoints, <=, alpha 0.1.",
        direction="trg_to_src", threshold="kps_extent", threshold_side="source", query_rounding="round", alphas=(0.1,))

# GeoAware-SC (Junyi42/GeoAware-SC pck_train.py): long side 840 + centred padding, strict <.
_GA = "GeoAware-SC pck_train.py (L174-244, L429; utils_dataset.py L13-35): isotropic resize to long side 840 + centred zero padding, source->target, STRICT <, "
_preset("geoaware/spair", _GA + "L = max(w,h) of the TARGET box x 840/max(W_T,H_T) (utils_dataset.py L263-267); categories weighted by #pairs = mean over pairs; pooled PCK = KPT_RESULT.",
        direction="src_to_trg", threshold="bbox", threshold_side="target", frame="long_side_pad", frame_size=840, comparison="lt", alphas=(0.01, 0.05, 0.1))
_preset("geoaware/pfpascal", _GA + "L = 840 (= alpha*max(H_T,W_T) in original pixels; pck_train.py L369).",
        direction="src_to_trg", threshold="frame", frame="long_side_pad", frame_size=840, comparison="lt", alphas=(0.05, 0.1, 0.15))

# NeMF (KU-CVLAB/NeMF utils_training/evaluation.py): original resolution, source side.
_NM = "NeMF (utils_training/optimize.py L56-110, evaluation.py L53-131): original pixels, target->source, <=, "
_preset("nemf/pfpascal", _NM + "L = max(H,W) of the SOURCE image.",
        direction="trg_to_src", threshold="image", threshold_side="source", alphas=NEMF_ALPHAS)
_preset("nemf/pfwillow", _NM + "L = extent of the SOURCE keypoints (no -1 pads; data_orig/pfwillow.py L106-126).",
        direction="trg_to_src", threshold="kps_extent", threshold_side="source", alphas=NEMF_ALPHAS)
_preset("nemf/spair", _NM + "L = max(w,h) of the SOURCE box; per class at 0.1.",
        direction="trg_to_src", threshold="bbox", threshold_side="source", alphas=NEMF_ALPHAS)

# Internet (Rubinstein et al. 2013) co-segmentation.
_preset("coseg/internet", "Object Discovery co-segmentation (Rubinstein et al. CVPR'13; spec datasets.md §6.2): per image at GT resolution, precision = fraction of correctly labelled pixels, Jaccard = foreground IoU; mean over each class's images, then mean of class means; Jaccard skipped on empty-GT images (count printed); predicted masks resized bilinearly and thresholded at 0.5.",
        jaccard_empty_gt="skip")

# TSS (Taniai et al. CVPR'16): scored by the official kit's rules (corrbench/tss), not by PCK.
_add(Protocol(
    name="tss_official/tss",
    description="Official TSS kit (C++ tool by default; spec datasets.md §5.3): flow accuracy T1..T50 as t% of "
                "the larger side of the image the flow points into, both directions, SegIUR; Average and w/o flip.",
    direction="trg_to_src", threshold="image", threshold_side="source", datasets=("tss",)))

BUILTIN_PRESETS: tuple[Protocol, ...] = tuple(_BUILTIN)
