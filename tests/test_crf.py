"""The tagger's CRF output layer (`config.crf`): exact against brute force over every tag sequence, padding-invariant,
-100 tokens summed over, eval logits whose argmax is the Viterbi path, saved with the model, and worth having: it
learns a tag that a left-to-right tagger cannot see coming."""

import itertools
import random

import pytest
import torch
from helpers import seeded, tiny_config

from hf_rnn import RNNForTokenClassification
from hf_rnn.crf_rnn import LinearChainCRF, iob2_forbidden

NUM_TAGS, TIME = 3, 5
# Rows of a padded batch: no padding, left, right, holes, one token, none.
MASK = torch.tensor(
    [[1, 1, 1, 1, 1], [0, 0, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 1, 1, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 0]]
).bool()


@pytest.fixture(scope="module")
def crf() -> LinearChainCRF:
    torch.manual_seed(0)
    crf = LinearChainCRF(NUM_TAGS)
    with torch.no_grad():
        for parameter in crf.parameters():
            parameter.normal_()
    return crf


@pytest.fixture(scope="module")
def emissions() -> torch.Tensor:
    torch.manual_seed(1)
    return torch.randn(len(MASK), TIME, NUM_TAGS)


def sequence_score(crf, emissions_row, positions, tags) -> torch.Tensor:
    """The CRF's score of `tags` at `positions`, term by term."""
    score = crf.start_transitions[tags[0]] + crf.end_transitions[tags[-1]]
    for index, (position, tag) in enumerate(zip(positions, tags)):
        score = score + emissions_row[position, tag]
        if index:
            score = score + crf.transitions[tags[index - 1], tag]
    return score


def every_sequence(crf, emissions, row):
    """Each tag sequence over the row's real tokens, with its score."""
    positions = MASK[row].nonzero().flatten().tolist()
    sequences = list(itertools.product(range(NUM_TAGS), repeat=len(positions)))
    scores = torch.stack([sequence_score(crf, emissions[row], positions, tags) for tags in sequences])
    return positions, sequences, scores


@torch.no_grad()
def test_log_partition_equals_brute_force_log_sum_exp_on_any_padding(crf, emissions):
    log_z = crf.log_partition(emissions, MASK)
    for row in range(len(MASK) - 1):
        _, _, scores = every_sequence(crf, emissions, row)
        torch.testing.assert_close(log_z[row], scores.logsumexp(0))
    assert log_z[-1] == 0  # no token, one empty sequence


@torch.no_grad()
def test_viterbi_equals_brute_force_best_sequence_on_any_padding(crf, emissions):
    path, best = crf.viterbi(emissions, MASK)
    assert torch.equal(path == -100, ~MASK)
    for row in range(len(MASK) - 1):
        positions, sequences, scores = every_sequence(crf, emissions, row)
        assert path[row, positions].tolist() == list(sequences[scores.argmax()])
        torch.testing.assert_close(best[row], scores.max())


@torch.no_grad()
def test_max_marginals_equal_brute_force_and_their_argmax_is_the_viterbi_path(crf, emissions):
    marginals, path = crf.max_marginals(emissions, MASK)
    assert torch.equal(path, crf.viterbi(emissions, MASK)[0])
    for row in range(len(MASK) - 1):
        positions, sequences, scores = every_sequence(crf, emissions, row)
        for index, position in enumerate(positions):
            for tag in range(NUM_TAGS):
                through = max(s for tags, s in zip(sequences, scores) if tags[index] == tag) - scores.max()
                torch.testing.assert_close(marginals[row, position, tag], through, atol=1e-5, rtol=0)
        assert marginals[row, positions].argmax(-1).tolist() == path[row, positions].tolist()
    assert torch.all(marginals[~MASK] == 0)


@torch.no_grad()
def test_negative_log_likelihood_of_labelled_tokens_is_gold_score_minus_log_partition(crf, emissions):
    torch.manual_seed(2)
    labels = torch.randint(NUM_TAGS, MASK.shape).masked_fill(~MASK, -100)
    nll = crf.negative_log_likelihood(emissions, MASK, labels)
    for row in range(len(MASK) - 1):
        positions, _, scores = every_sequence(crf, emissions, row)
        gold = sequence_score(crf, emissions[row], positions, labels[row, positions].tolist())
        torch.testing.assert_close(nll[row], scores.logsumexp(0) - gold)
    assert nll[-1] == 0


@torch.no_grad()
def test_a_real_token_labelled_minus_100_is_a_chain_link_with_its_tag_summed_over(crf, emissions):
    """A word's continuation piece: its tag is latent, not dropped from the chain (the pipeline decodes it too)."""
    labels = torch.tensor([[0, -100, 2, -100, 1]])
    nll = crf.negative_log_likelihood(emissions[:1], MASK[:1], labels)
    positions, sequences, scores = every_sequence(crf, emissions, 0)
    agree = torch.tensor([tags[0] == 0 and tags[2] == 2 and tags[4] == 1 for tags in sequences])
    torch.testing.assert_close(nll[0], scores.logsumexp(0) - scores[agree].logsumexp(0))
    # Not the chain of the labelled tokens alone (3 links): the unlabelled tokens' emissions and transitions count.
    compact = crf.negative_log_likelihood(emissions[:1, [0, 2, 4]], MASK[:1, :3], labels[:, [0, 2, 4]])
    assert not torch.allclose(nll, compact)


IOB2_TAGS = ["O", "B-X", "I-X"]


def test_iob2_forbids_inside_tags_first_or_after_another_entity_or_outside():
    starts, transitions = iob2_forbidden(["O", "B-PER", "I-PER", "B-LOC", "I-LOC"])
    assert starts == [2, 4]
    assert sorted(transitions) == [(0, 2), (0, 4), (1, 4), (2, 4), (3, 2), (4, 2)]


@torch.no_grad()
def test_constrained_decoding_equals_brute_force_over_the_allowed_sequences_only(crf, emissions):
    constrained = LinearChainCRF(NUM_TAGS, *iob2_forbidden(IOB2_TAGS))
    constrained.load_state_dict(crf.state_dict())
    path, best = constrained.viterbi(emissions, MASK)
    marginals, marginal_path = constrained.max_marginals(emissions, MASK)
    assert torch.equal(marginal_path, path)
    unconstrained_path = crf.viterbi(emissions, MASK)[0]
    assert not torch.equal(path, unconstrained_path)  # guard: the rule changes some decision
    for row in range(len(MASK) - 1):
        positions, sequences, scores = every_sequence(crf, emissions, row)
        allowed = torch.tensor(
            [tags[0] != 2 and all(b != 2 or a != 0 for a, b in zip(tags, tags[1:])) for tags in sequences]
        )
        best_allowed = scores.masked_fill(~allowed, float("-inf"))
        assert path[row, positions].tolist() == list(sequences[best_allowed.argmax()])
        torch.testing.assert_close(best[row], best_allowed.max())
        assert marginals[row, positions].argmax(-1).tolist() == path[row, positions].tolist()
    assert marginals[0, 0, 2] == float("-inf")  # no allowed sequence starts inside an entity
    # Training's likelihood keeps every sequence (a gold sequence breaking the rule costs a finite loss).
    torch.testing.assert_close(constrained.log_partition(emissions, MASK), crf.log_partition(emissions, MASK))


def test_likelihood_gradients_are_finite_with_unlabelled_tokens_and_padding(crf, emissions):
    emissions = emissions.clone().requires_grad_()
    labels = torch.tensor([[0, -100, 2, -100, 1]] * len(MASK)).masked_fill(~MASK, -100)
    crf.negative_log_likelihood(emissions, MASK, labels).sum().backward()
    assert torch.isfinite(emissions.grad).all() and all(torch.isfinite(p.grad).all() for p in crf.parameters())
    assert torch.all(emissions.grad[~MASK] == 0)
    crf.zero_grad()


# The tagger with a CRF: rows padded on different sides in one batch, against each row alone.
ROWS = [([5, 6, 7, 8, 9], "none"), ([10, 11, 12], "left"), ([13, 14], "right"), ([15, 16, 17, 18], "left")]
ROW_LABELS = [[0, 1, 2, 2, 0], [1, -100, 0], [2, 0], [0, 0, -100, 1]]


def padded(rows, values, fill):
    width = max(len(ids) for ids, _ in rows)
    out = []
    for (ids, side), row in zip(rows, values):
        filler = [fill] * (width - len(ids))
        out.append(filler + row if side == "left" else row + filler)
    return torch.tensor(out)


@pytest.fixture(scope="module")
def tagger() -> RNNForTokenClassification:
    model = seeded(RNNForTokenClassification, tiny_config("gru", bidirectional=True, num_labels=NUM_TAGS, crf=True))
    with torch.no_grad():  # transitions that matter (they start at zero)
        for parameter in model.crf.parameters():
            parameter.normal_()
    return model


@torch.no_grad()
def test_padding_does_not_change_the_crf_taggers_loss_path_or_logits(tagger):
    input_ids = padded(ROWS, [ids for ids, _ in ROWS], 0)
    mask = padded(ROWS, [[1] * len(ids) for ids, _ in ROWS], 0)
    labels = padded(ROWS, ROW_LABELS, -100)
    batch = tagger(input_ids, attention_mask=mask, labels=labels, num_items_in_batch=1)  # loss: the summed NLL
    path = tagger.decode(input_ids, attention_mask=mask)
    total = 0.0
    for row, (ids, _) in enumerate(ROWS):
        alone = tagger(torch.tensor([ids]), labels=torch.tensor([ROW_LABELS[row]]), num_items_in_batch=1)
        total += alone.loss
        real = mask[row].bool()
        torch.testing.assert_close(batch.logits[row, real], alone.logits[0], atol=1e-5, rtol=0)
        assert path[row, real].tolist() == tagger.decode(torch.tensor([ids]))[0].tolist()
        assert torch.all(path[row, ~real] == -100)
        assert batch.logits[row, real].argmax(-1).tolist() == path[row, real].tolist()
    torch.testing.assert_close(batch.loss, total, atol=1e-5, rtol=0)


@torch.no_grad()
def test_crf_loss_is_per_scored_token_or_per_num_items_in_batch(tagger):
    input_ids = padded(ROWS, [ids for ids, _ in ROWS], 0)
    mask = padded(ROWS, [[1] * len(ids) for ids, _ in ROWS], 0)
    labels = padded(ROWS, ROW_LABELS, -100)
    summed = tagger(input_ids, attention_mask=mask, labels=labels, num_items_in_batch=1).loss
    scored = sum(label != -100 for row in ROW_LABELS for label in row)
    torch.testing.assert_close(tagger(input_ids, attention_mask=mask, labels=labels).loss, summed / scored)
    count = torch.tensor(40)
    torch.testing.assert_close(
        tagger(input_ids, attention_mask=mask, labels=labels, num_items_in_batch=count).loss, summed / 40
    )


@torch.no_grad()
def test_eval_logits_pick_the_viterbi_path_and_training_logits_are_the_emissions(tagger):
    input_ids = torch.tensor([[5, 6, 7, 8, 9, 10]])
    emissions = tagger.emission_scores(input_ids, None, None)[0]
    path = tagger.crf.viterbi(emissions, torch.ones(1, 6, dtype=torch.bool))[0]
    logits = tagger(input_ids).logits
    assert torch.equal(logits.argmax(-1), path) and torch.equal(tagger.decode(input_ids), path)
    assert torch.all(logits <= 0) and torch.all(logits.amax(-1) == 0)
    # The transitions change the decision somewhere (else this test would not tell the CRF from an argmax).
    assert not torch.equal(path, emissions.argmax(-1))
    tagger.train()
    try:
        torch.testing.assert_close(tagger(input_ids).logits, emissions)
    finally:
        tagger.eval()


def test_a_saved_crf_tagger_reloads_its_transitions_and_decodes_the_same(tagger, tmp_path):
    tagger.save_pretrained(tmp_path)
    reloaded = RNNForTokenClassification.from_pretrained(tmp_path)
    assert reloaded.config.crf is True
    for name in ("transitions", "start_transitions", "end_transitions"):
        assert torch.equal(getattr(reloaded.crf, name), getattr(tagger.crf, name)), name
    input_ids = torch.tensor([[0, 0, 5, 6, 7], [8, 9, 10, 11, 12]])
    mask = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    with torch.no_grad():
        assert torch.equal(
            reloaded(input_ids, attention_mask=mask).logits, tagger(input_ids, attention_mask=mask).logits
        )


def test_crf_is_validated_as_a_flag():
    with pytest.raises(ValueError, match="crf="):
        tiny_config(crf="yes")


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"crf": True, "crf_constraints": "bio"}, "crf_constraints='bio' is not supported"),
        ({"crf_constraints": "iob2"}, "needs crf=True"),
        ({"crf": True, "crf_constraints": "iob2", "id2label": {0: "O", 1: "PER"}}, "IOB2"),
        ({"crf": True, "crf_constraints": "iob2", "id2label": {0: "I-X"}}, "start a sentence"),
    ],
)
def test_crf_constraints_are_validated_naming_the_field(overrides, message):
    with pytest.raises(ValueError, match=message):
        tiny_config(**{"id2label": dict(enumerate(IOB2_TAGS)), **overrides})


@torch.no_grad()
def test_an_iob2_constrained_tagger_never_decodes_inside_after_outside_and_reloads_so(tmp_path):
    config = tiny_config(num_labels=3, id2label=dict(enumerate(IOB2_TAGS)), crf=True, crf_constraints="iob2")
    model = seeded(RNNForTokenClassification, config)
    model.crf.transitions[0, 2] = 5.0  # the rule alone must keep O -> I-X out
    model.crf.start_transitions[2] = 5.0
    model.save_pretrained(tmp_path)
    input_ids = torch.randint(4, 30, (8, 7), generator=torch.Generator().manual_seed(0))
    for tagger in (model, RNNForTokenClassification.from_pretrained(tmp_path)):
        path = tagger.decode(input_ids)
        assert torch.all(path[:, 0] != 2)
        assert not torch.any((path[:, :-1] == 0) & (path[:, 1:] == 2))
        assert torch.equal(tagger(input_ids).logits.argmax(-1), path)


# A tag that only the next token decides: a determiner is B- before a name and O before anything else. A
# left-to-right tagger cannot see the name coming; a CRF learns that I- follows only B- and decodes back to it.
DETERMINER, NAME, WORDS = 4, 5, (6, 7, 8, 9)


def determiner_sentences(count: int, seed: int, length: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    rng = random.Random(seed)
    ids, tags = [], []
    for _ in range(count):
        row, row_tags = [], []
        while len(row) < length:
            if rng.random() < 0.4 and len(row) < length - 1:
                named = rng.random() < 0.5
                row += [DETERMINER, NAME if named else rng.choice(WORDS)]
                row_tags += [1, 2] if named else [0, 0]
            else:
                row.append(rng.choice(WORDS))
                row_tags.append(0)
        ids.append(row)
        tags.append(row_tags)
    return torch.tensor(ids), torch.tensor(tags)


def determiner_accuracy(crf: bool) -> float:
    torch.manual_seed(0)
    config = tiny_config(num_hidden_layers=1, hidden_size=16, num_labels=3, crf=crf)  # left to right
    model = RNNForTokenClassification(config).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    for step in range(150):
        ids, tags = determiner_sentences(32, seed=step)
        loss = model(ids, labels=tags).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    ids, tags = determiner_sentences(200, seed=10_000)
    predicted = model.eval().decode(ids)
    return (predicted[ids == DETERMINER] == tags[ids == DETERMINER]).float().mean().item()


def test_crf_learns_a_tag_decided_by_the_next_token_that_a_softmax_tagger_cannot(one_thread):
    assert determiner_accuracy(crf=True) > 0.95
    assert determiner_accuracy(crf=False) < 0.7  # the control: without transitions, a coin flip
