"""The learned part of the classifier: word and phrase features (TF-IDF) and one logistic
regression per label, with scikit-learn.

Cross-fitting keeps an incident's own labels out of the model that suggests for it: the
labelled incidents are split into ``FOLDS`` folds by id, one model is fitted without each
fold, and an incident the training set contains is always scored by the model that did not
see it. Incidents outside the training set (imports waiting for labels) use the model fitted
on everything. Reference examples (not incidents) train every model.

Models are kept small enough to load in every process: each label keeps its
``KEEP_WEIGHTS`` strongest weights, stored sparse.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

FOLDS = 5
FULL = -1  # the model fitted on every example
MIN_POSITIVES = 3  # fewer examples of a label than this: the lexicon alone speaks for it
KEEP_WEIGHTS = 4000
MAX_FEATURES = 40_000
REGULARISATION = 4.0  # logistic regression's C


def fold_of(incident_id: int) -> int:
    return incident_id % FOLDS


def vectorizer(**kwargs) -> TfidfVectorizer:
    return TfidfVectorizer(
        ngram_range=(1, 2),
        min_df=2,
        max_features=MAX_FEATURES,
        sublinear_tf=True,
        stop_words="english",
        strip_accents="unicode",
        dtype=np.float32,
        **kwargs,
    )


@dataclass
class Weights:
    """One fitted set of per-label regressions over the shared features."""

    coef: sparse.csr_matrix  # labels by features
    intercept: np.ndarray  # labels

    def probabilities(self, features: sparse.csr_matrix) -> np.ndarray:
        scores = np.asarray((features @ self.coef.T).todense()) + self.intercept
        return 1.0 / (1.0 + np.exp(-scores))


@dataclass
class LearnedModel:
    vocabulary: list[str]
    idf: np.ndarray
    labels: list[str]
    positives: dict[str, int]
    weights: dict[int, Weights]  # FULL and each fold
    trained_ids: set[int]

    def __post_init__(self) -> None:
        self._vectorizer = vectorizer(vocabulary={w: i for i, w in enumerate(self.vocabulary)})
        self._vectorizer.idf_ = self.idf

    def features(self, texts: Sequence[str]) -> sparse.csr_matrix:
        return self._vectorizer.transform(texts)

    def model_for(self, incident_id: int | None) -> int:
        if incident_id is not None and incident_id in self.trained_ids:
            return fold_of(incident_id)
        return FULL

    def probabilities(self, texts: Sequence[str], incident_ids: Sequence[int | None]) -> np.ndarray:
        """Rows of per-label probabilities, each from the model that did not see that incident."""
        features = self.features(texts)
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float64)
        which = np.array([self.model_for(i) for i in incident_ids])
        for key in np.unique(which):
            rows = np.flatnonzero(which == key)
            out[rows] = self.weights[int(key)].probabilities(features[rows])
        return out

    def contributions(self, sentences: Sequence[str], label_index: int, model: int) -> np.ndarray:
        """How much each sentence's words push towards one label (for quoting evidence)."""
        features = self.features(sentences)
        row = self.weights[model].coef[label_index]
        return np.asarray((features @ row.T).todense()).ravel()


def train(
    texts: Sequence[str],
    label_sets: Sequence[set[str]],
    folds: Sequence[int],
    *,
    labels: Sequence[str],
    incident_ids: Sequence[int],
) -> LearnedModel | None:
    """Fit the features and one regression per label with enough examples; None if none has."""
    counts = {label: sum(label in s for s in label_sets) for label in labels}
    learned = [
        label
        for label in labels
        if MIN_POSITIVES <= counts[label] <= len(label_sets) - MIN_POSITIVES
    ]
    if not learned or len(texts) < 2 * MIN_POSITIVES:
        return None
    vec = vectorizer()
    features = vec.fit_transform(texts)
    targets = np.array([[label in s for label in learned] for s in label_sets], dtype=np.int8)
    fold_array = np.array(folds)
    weights = {FULL: _fit(features, targets)}
    for fold in range(FOLDS):
        keep = fold_array != fold
        weights[fold] = _fit(features[keep], targets[keep])
    vocabulary = [None] * len(vec.vocabulary_)
    for word, index in vec.vocabulary_.items():
        vocabulary[index] = word
    return LearnedModel(
        vocabulary=vocabulary,
        idf=vec.idf_.astype(np.float32),
        labels=learned,
        positives={label: counts[label] for label in learned},
        weights=weights,
        trained_ids={int(i) for i in incident_ids if i is not None},
    )


def _fit(features: sparse.csr_matrix, targets: np.ndarray) -> Weights:
    coefs, intercepts = [], []
    for column in range(targets.shape[1]):
        y = targets[:, column]
        if y.min() == y.max():  # a fold without a single example (or counter-example)
            coefs.append(np.zeros(features.shape[1], dtype=np.float32))
            intercepts.append(-4.0 if y.max() == 0 else 4.0)
            continue
        regression = LogisticRegression(
            C=REGULARISATION, solver="liblinear", max_iter=200, class_weight="balanced"
        )
        regression.fit(features, y)
        coefs.append(_strongest(regression.coef_[0]))
        intercepts.append(float(regression.intercept_[0]))
    return Weights(sparse.csr_matrix(np.vstack(coefs), dtype=np.float32), np.array(intercepts))


def _strongest(coef: np.ndarray) -> np.ndarray:
    if coef.size <= KEEP_WEIGHTS:
        return coef.astype(np.float32)
    cut = np.partition(np.abs(coef), -KEEP_WEIGHTS)[-KEEP_WEIGHTS]
    return np.where(np.abs(coef) >= cut, coef, 0.0).astype(np.float32)


# --- Storage -------------------------------------------------------------------------


def dumps(model: LearnedModel) -> bytes:
    """The model as one compressed NumPy archive (no pickle: loading it runs no code)."""
    arrays: dict[str, np.ndarray] = {"idf": model.idf}
    meta = {
        "vocabulary": model.vocabulary,
        "labels": model.labels,
        "positives": model.positives,
        "models": sorted(model.weights),
    }
    for key, w in model.weights.items():
        arrays[f"coef_data_{key}"] = w.coef.data
        arrays[f"coef_indices_{key}"] = w.coef.indices
        arrays[f"coef_indptr_{key}"] = w.coef.indptr
        arrays[f"intercept_{key}"] = w.intercept
    arrays["trained_ids"] = np.array(sorted(model.trained_ids), dtype=np.int64)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def loads(data: bytes) -> LearnedModel:
    archive = np.load(io.BytesIO(bytes(data)), allow_pickle=False)
    meta = json.loads(archive["meta"].tobytes().decode())
    shape = (len(meta["labels"]), len(meta["vocabulary"]))
    weights = {
        key: Weights(
            sparse.csr_matrix(
                (
                    archive[f"coef_data_{key}"],
                    archive[f"coef_indices_{key}"],
                    archive[f"coef_indptr_{key}"],
                ),
                shape=shape,
            ),
            archive[f"intercept_{key}"],
        )
        for key in meta["models"]
    }
    return LearnedModel(
        vocabulary=meta["vocabulary"],
        idf=archive["idf"],
        labels=meta["labels"],
        positives=meta["positives"],
        weights=weights,
        trained_ids=set(archive["trained_ids"].tolist()),
    )
