"""Unsupervised segmentation from CNN feature maps (scikit-learn style estimators).

``FeatureSegmenter(backbone, layer, method="kmeans"|"dbscan", n_segments)`` cuts a CNN at one stage,
clusters its h*w feature vectors and returns an (H, W) label map from ``fit_predict(image)``;
``ColourPositionKMeans`` and ``SLICMerged`` are the baselines without a CNN; ``metrics`` scores
segmentations (silhouette, Davies-Bouldin, Calinski-Harabasz; box IoU, ARI, Hungarian mean IoU);
``mosaic`` makes images with known regions.
"""

from dl_assign.segment.baselines import ColourPositionKMeans, SLICMerged
from dl_assign.segment.cluster import NOISE, Clustering, NoClusters
from dl_assign.segment.features import ALIASES, ImageTooSmall, Stages, UnknownLayer, stages_of
from dl_assign.segment.segmenter import BaseSegmenter, FeatureSegmenter, Vectors

__all__ = ["ALIASES", "NOISE", "BaseSegmenter", "Clustering", "ColourPositionKMeans", "FeatureSegmenter",
           "ImageTooSmall", "NoClusters", "SLICMerged", "Stages", "UnknownLayer", "Vectors", "stages_of"]
