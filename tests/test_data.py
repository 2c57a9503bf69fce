"""Loaders of the comparison chapter: the word list, the digits, and IMDB tested offline."""
import tarfile

import pytest
import torch

from gatedrnn import data


def test_cmudict_words_are_filtered_sorted_and_distinct():
    words = data.load_words(min_length=3, max_length=6)
    assert len(words) > 10_000          # the dictionary holds over 100k entries
    assert words == sorted(set(words))
    assert all(3 <= len(w) <= 6 and w.isalpha() and w.islower() for w in words)
    assert "cat" in words and "a" not in words


def test_char_corpus_split_is_deterministic_and_disjoint():
    first = data.char_corpus(valid_fraction=0.2, seed=3, max_words=500)
    second = data.char_corpus(valid_fraction=0.2, seed=3, max_words=500)
    other = data.char_corpus(valid_fraction=0.2, seed=4, max_words=500)
    assert first.train_words == second.train_words and first.valid_words == second.valid_words
    assert first.valid_words != other.valid_words
    assert len(first.valid_words) == 100 and len(first.train_words) == 400
    assert not set(first.train_words) & set(first.valid_words)


def test_vocab_round_trip_with_bos_eos():
    vocab = data.CharVocab("banana")
    assert len(vocab) == 3 + 3 and vocab.itos[:3] == [data.PAD, data.BOS, data.EOS]
    ids = vocab.encode("nab")
    assert ids[0] == data.BOS_ID and ids[-1] == data.EOS_ID and len(ids) == 5
    assert vocab.decode(ids) == "nab"
    with pytest.raises(ValueError, match="not in the vocabulary"):
        vocab.encode("bat")


def test_encode_words_shifts_targets_and_pads():
    vocab = data.CharVocab("abc")
    inputs, targets = data.encode_words(["ab", "cab a".replace(" ", "")], vocab)
    assert inputs.shape == targets.shape == (2, 5)
    # targets are the inputs shifted left by one, ending in EOS
    assert inputs[0, :3].tolist() == [data.BOS_ID, vocab.stoi["a"], vocab.stoi["b"]]
    assert targets[0, :3].tolist() == [vocab.stoi["a"], vocab.stoi["b"], data.EOS_ID]
    assert inputs[0, 3:].tolist() == [data.PAD_ID] * 2
    assert targets[0, 3:].tolist() == [data.IGNORE_INDEX] * 2
    assert (targets[1] != data.IGNORE_INDEX).all()


def test_batches_cover_an_epoch_once():
    inputs = torch.arange(10).reshape(10, 1)
    seen = torch.cat([x for x, _ in data.batches((inputs, inputs), 3, seed=1)])
    assert sorted(seen[:, 0].tolist()) == list(range(10))
    assert [len(x) for x, _ in data.batches((inputs, inputs), 4, shuffle=False)] == [4, 4, 2]
    with pytest.raises(ValueError, match="batch_size"):
        next(data.batches((inputs, inputs), 0))


@pytest.mark.parametrize("mode, shape", [("rows", (8, 8)), ("pixels", (64, 1))])
def test_digits_as_sequences(mode, shape):
    (train_x, train_y), (test_x, test_y) = data.load_digits_sequences(mode=mode, seed=0)
    assert train_x.shape[1:] == shape and test_x.shape[1:] == shape
    assert len(train_x) + len(test_x) == 1797 and len(test_x) == round(0.25 * 1797)
    assert 0.0 <= float(train_x.min()) and float(train_x.max()) == 1.0
    assert set(train_y.tolist()) == set(range(10))
    again = data.load_digits_sequences(mode=mode, seed=0)
    assert torch.equal(again[1][0], test_x)


def test_digits_rows_and_pixels_are_the_same_images():
    (rows, _), _ = data.load_digits_sequences(mode="rows")
    (pixels, _), _ = data.load_digits_sequences(mode="pixels")
    assert torch.equal(rows.reshape(-1, 64), pixels[..., 0])
    with pytest.raises(ValueError, match="mode must be"):
        data.load_digits_sequences(mode="columns")


# ------------------------------------------------------------------ IMDB, offline

def _reviews():
    return {"train": [("A great film, truly great.<br />Loved it", 1), ("Boring and bad", 0),
                      ("great acting", 1), ("bad bad plot", 0)],
            "test": [("great", 1), ("bad unknownword", 0)]}


@pytest.fixture
def archive(tmp_path):
    path = tmp_path / "cache" / data.IMDB_ARCHIVE
    path.parent.mkdir()
    checksum = data.write_imdb_archive(path, _reviews())
    return path, checksum


def test_archive_has_the_aclimdb_layout(archive):
    path, _ = archive
    with tarfile.open(path) as handle:
        names = handle.getnames()
    assert "aclImdb/train/pos/0_8.txt" in names and "aclImdb/test/neg/1_2.txt" in names
    splits = data.read_imdb_archive(path)
    assert len(splits["train"]) == 4 and len(splits["test"]) == 2
    assert sorted(label for _, label in splits["train"]) == [0, 0, 1, 1]


def test_load_imdb_from_cache_tokenizes_and_pads(archive):
    path, checksum = archive
    (train_x, train_y), (test_x, test_y), vocab = data.load_imdb(
        path.parent, sha256=checksum, num_words=5, max_length=4)
    # 5 ids: pad, unknown, and the 3 most frequent training words (bad, great x3; then ties)
    assert len(vocab) == 5 and vocab.itos[2:4] == ["bad", "great"]
    assert train_x.shape == (4, 4) and test_x.shape == (2, 4)
    assert train_y.dtype == torch.float32 and sorted(train_y.tolist()) == [0, 0, 1, 1]
    # "great" alone: left-padded, so the word sits next to the final state
    great = [row for row, (text, _) in zip(test_x, data.read_imdb_archive(path)["test"])
             if text == "great"][0]
    assert great.tolist() == [0, 0, 0, vocab.stoi["great"]]
    assert int(test_x.max()) < 5


def test_tokenize_and_pad_sequences():
    assert data.tokenize("It's GREAT.<br />Really") == ["it's", "great", "really"]
    padded = data.pad_sequences([[1, 2, 3, 4, 5], [7]], 3)
    assert padded.tolist() == [[3, 4, 5], [0, 0, 7]]


def test_checksum_mismatch_raises_a_clear_error(archive):
    path, _ = archive
    with pytest.raises(ValueError, match="checksum mismatch.*expected SHA-256 0{64}"):
        data.load_imdb(path.parent, sha256="0" * 64)


def test_missing_archive_is_not_downloaded_unless_asked(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=True"):
        data.fetch_imdb(tmp_path)
    assert not list(tmp_path.iterdir())


def test_download_caches_and_verifies(archive, tmp_path):
    source, checksum = archive
    cache = tmp_path / "downloads"
    url = source.as_uri()  # file:// : the real code path, no network
    path = data.fetch_imdb(cache, download=True, url=url, sha256=checksum)
    assert path == cache / data.IMDB_ARCHIVE and data.sha256_of(path) == checksum
    source.unlink()  # the second call must use the cache, not the URL
    assert data.fetch_imdb(cache, url=url, sha256=checksum) == path


def test_corrupt_download_never_lands_in_the_cache(archive, tmp_path):
    source, _ = archive
    cache = tmp_path / "downloads"
    with pytest.raises(ValueError, match="checksum mismatch"):
        data.fetch_imdb(cache, download=True, url=source.as_uri(), sha256="f" * 64)
    assert list(cache.iterdir()) == []


def test_synthetic_reviews_are_labelled_by_their_opinions():
    reviews = data.synthetic_reviews(200, seed=0)
    assert len(reviews) == 200 and reviews == data.synthetic_reviews(200, seed=0)
    labels = [label for _, label in reviews]
    assert 0.3 < sum(labels) / len(labels) < 0.7
    text, label = next(r for r in reviews if " not " not in f" {r[0]} ")
    positive = sum(w in data._POSITIVE for w in text.split())
    negative = sum(w in data._NEGATIVE for w in text.split())
    assert label == int(positive > negative)


def test_reviews_to_tensors_builds_the_vocabulary_on_training_reviews_only():
    train = [("good good film", 1), ("bad film", 0)]
    test = [("unseen good", 1)]
    (x_train, y_train), (x_test, y_test), vocab = data.reviews_to_tensors(
        train, test, num_words=10, max_length=4)
    assert vocab.itos == ["<pad>", "<unk>", "film", "good", "bad"]  # ties alphabetical
    assert "unseen" not in vocab.stoi
    assert x_train.shape == (2, 4) and x_test.shape == (1, 4)
    assert x_train[0].tolist() == [0] + [vocab.stoi[w] for w in ["good", "good", "film"]]
    assert x_test[0].tolist() == [0, 0, 1, vocab.stoi["good"]]  # unknown word -> id 1
    assert y_train.dtype == torch.float32 and y_train.tolist() == [1.0, 0.0]
    assert y_test.tolist() == [1.0]
    with pytest.raises(ValueError, match="train_reviews"):
        data.reviews_to_tensors([], test)
    with pytest.raises(ValueError, match="test_reviews"):
        data.reviews_to_tensors(train, ["no label"])
