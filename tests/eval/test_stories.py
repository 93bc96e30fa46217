"""Story metrics against hand-computed values, and `slm eval stories` end to end on a micro model."""

from __future__ import annotations

import json
import math

import pytest

from slmkit.cli import main
from slmkit.common.errors import InputError, MissingFileError
from slmkit.eval import stories as m
from slmkit.eval.story_eval import first_sentence


@pytest.mark.parametrize(
    ("word", "syllables"),
    [("cat", 1), ("happy", 2), ("beautiful", 3), ("little", 2), ("make", 1), ("whale", 1), ("the", 1),
     ("jumped", 1), ("wanted", 2), ("played", 1), ("yes", 1), ("likes", 1), ("boxes", 2), ("every", 3), ("tree", 1)],
)
def test_syllable_counter(word, syllables):
    assert m.count_syllables(word) == syllables


def test_flesch_kincaid_grade_by_hand():
    # 6 words, 2 sentences, 6 syllables: 0.39 * 3 + 11.8 * 1 - 15.59
    assert m.flesch_kincaid_grade("The cat sat. The dog ran.") == pytest.approx(-2.62)
    # 4 words, 1 sentence, 6 syllables (beau-ti-ful): 0.39 * 4 + 11.8 * 1.5 - 15.59
    assert m.flesch_kincaid_grade("The beautiful cat jumped.") == pytest.approx(3.67)
    assert m.flesch_kincaid_grade("") == 0.0


def test_easy_word_share_counts_regular_inflections(tmp_path):
    words = tmp_path / "easy.txt"
    words.write_text("the\ndog\nrun\nhappy\n")
    easy = m.load_easy_words(words)
    # the, dogs (dog+s), running (run, doubled n) are easy; happily and zebra are not: 3/5
    assert m.easy_word_share("The dogs running happily zebra.", easy) == pytest.approx(0.6)


def test_dale_chall_list_from_textstat_is_readable_offline():
    easy = m.load_easy_words()
    assert len(easy) > 2900 and {"dog", "happy", "mother"} <= easy


def test_age_of_acquisition_norms(tmp_path):
    csv = tmp_path / "aoa.csv"
    csv.write_text("\ufeffWord,AoA_Kup,AoA_Kup_lem\nthe,3.0,3.0\ndog,2.8,2.8\nran,NA,4.0\nphotosynthesis,10.67,10.67\n",
                   encoding="utf-8")
    norms = m.load_aoa_norms(csv)
    assert norms == {"the": 3.0, "dog": 2.8, "ran": 4.0, "photosynthesis": 10.67}  # NA filled from the lemma
    stats = m.age_of_acquisition(["The dog ran fast."], norms)
    assert stats["mean_aoa"] == pytest.approx((3.0 + 2.8 + 4.0) / 3)
    assert stats["aoa_coverage"] == pytest.approx(0.75)  # "fast" has no norm
    assert stats["share_aoa_le_6"] == 1.0
    assert m.age_of_acquisition(["Photosynthesis."], norms)["share_aoa_le_6"] == 0.0


def test_aoa_norms_bad_files(tmp_path):
    with pytest.raises(MissingFileError):
        m.load_aoa_norms(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("word,age\ndog,3\n")
    with pytest.raises(InputError, match="AoA_Kup"):
        m.load_aoa_norms(bad)


def test_distinct_n_self_bleu_and_repetition():
    assert m.distinct_n(["a b a b"], 2) == pytest.approx(2 / 3)  # ab, ba, ab
    assert m.distinct_n(["a b", "c d"], 1) == 1.0
    assert m.self_bleu(["the cat sat on the mat", "the cat sat on the mat"]) == pytest.approx(100.0)
    assert m.self_bleu(["the cat sat on the mat", "green frogs jump over tall logs"]) == pytest.approx(0.0)
    assert m.repetition_rate("a b c d a b c d", 2) == pytest.approx(3 / 7)  # 7 bigrams, 4 unique
    assert m.repetition_rate("one two three four five", 4) == 0.0


def test_ngram_index_longest_overlap_and_attested_bigrams():
    index = m.NgramIndex(["the cat sat on the mat", "a dog ran"])
    assert index.n_words == 9
    assert index.longest_overlap("the cat sat on a dog ran") == 4  # "the cat sat on"
    assert index.longest_overlap("the mat a dog") == 2  # "mat a" would span two documents
    assert index.longest_overlap("purple elephants") == 0
    # bigrams: the-cat, cat-sat, sat-on attested; on-a, a-rug not: 3/5
    assert m.attested_bigram_share("the cat sat on a rug", index) == pytest.approx(0.6)
    stats = m.novelty(["the cat sat on the mat", "purple elephants"], index, memorized_at=6)
    assert stats == {"overlap_mean": 3.0, "overlap_max": 6, "share_overlap_ge_6": 0.5}


def test_character_names_and_consistency():
    assert m.character_names("Once there was a girl named Lily. Lily had a dog called Max.") == {"Lily", "Max"}
    result = m.consistency("There was a girl named Lily.", " Lily played with Tom. Then Sue came.")
    assert result == {"names_kept": 1.0, "new_names": 2.0}
    assert math.isnan(m.consistency("Once upon a time.", " The end.")["names_kept"])


def test_first_sentence():
    assert first_sentence("Tom had a ball. It was red.") == "Tom had a ball."
    assert first_sentence("one two three", max_words=2) == "one two"


def test_eval_stories_command_writes_report(micro_checkpoint, capsys):
    run = micro_checkpoint
    code = main(["eval", "stories", "--ckpt", str(run), "--n", "4", "--max-tokens", "16", "--seed", "3",
                 "--out", str(run / "eval" / "stories_test.json")])
    assert code == 0
    report = json.loads((run / "eval" / "stories_test.json").read_text())
    assert report["stories"] == 4 and report["reference_words"] > 1000  # the run's data/train.jsonl was used
    metrics = report["metrics"]
    assert 0 <= metrics["age"]["easy_word_share"] <= 1
    assert 0 <= metrics["creativity"]["distinct_1"] <= 1 and 0 <= metrics["creativity"]["self_bleu"] <= 100
    assert 0 <= metrics["grammar_proxy"]["attested_bigram_share"] <= 1
    assert metrics["creativity"]["overlap_max"] >= 1
    samples = (run / "eval" / "stories_test_samples.jsonl").read_text().splitlines()
    assert len(samples) == 4 and all(json.loads(s)["prompt"] for s in samples)
    capsys.readouterr()
    # same seed: same stories
    assert main(["eval", "stories", "--ckpt", str(run), "--n", "4", "--max-tokens", "16", "--seed", "3",
                 "--out", str(run / "eval" / "stories_again.json")]) == 0
    again = json.loads((run / "eval" / "stories_again.json").read_text())
    assert again["samples"] == report["samples"]


def test_eval_stories_bad_prompts_file_is_one_line(micro_checkpoint, tmp_path, capsys):
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"prompt": "Once"}\nnot json\n')
    assert main(["eval", "stories", "--ckpt", str(micro_checkpoint), "--prompts", str(prompts), "--n", "2"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "p.jsonl:2" in err[0]


def test_eval_stories_scores_existing_stories_without_a_model(tmp_path, capsys):
    stories = tmp_path / "stories.txt"
    stories.write_text("Tom had a red ball. He played with it all day.\n<|endoftext|>\n"
                       "Sue saw a cat. The cat was happy and Sue was happy too.\n<|endoftext|>\n")
    reference = tmp_path / "train.txt"
    reference.write_text("He played with it all day and the cat was happy.\n")
    out = tmp_path / "ref.json"
    assert main(["eval", "stories", "--stories", str(stories), "--reference", str(reference), "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["stories"] == 2 and report["checkpoint"] is None
    assert report["samples"][0] == {"prompt": "Tom had a red ball.", "continuation": " He played with it all day."}
    # longest shared word n-grams: "he played with it all day" (6) and "the cat was happy" (4)
    assert report["metrics"]["creativity"]["overlap_max"] == 6
    assert report["metrics"]["creativity"]["overlap_mean"] == 5.0
