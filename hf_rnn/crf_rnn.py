"""A linear-chain conditional random field over tag sequences: the output layer of BiLSTM-CRF taggers (Lample et al.
2016; Ma & Hovy 2016).

Part of the Hub bundle (imports torch only). Every method takes `emissions` `(batch, time, num_tags)`, the tagger's
per-token scores, and a `(batch, time)` bool `mask` of the positions that are links of the chain (the real tokens).
Masked positions may sit anywhere (left, right, or holes): each recursion carries its state across them unchanged, so
padding never changes a result and no per-row gather is needed. The recursions run in float32 (emissions may be
bf16 under autocast); the loop over time is what the chain's math needs, each step vectorized over rows and tags.
"""

from collections.abc import Sequence

import torch
from torch import nn

NOT_SCORED = -100  # the label of a position that is not scored, as in transformers' losses


def iob2_forbidden(tags: Sequence[str]) -> tuple[list[int], list[tuple[int, int]]]:
    """
    What IOB2 forbids among `tags` (the tag names by id): the tags that cannot start a sentence ("I-X") and the
    transitions (previous, next) that cannot occur ("I-X" after anything but "B-X" or "I-X").
    """
    inside = {index: tag[2:] for index, tag in enumerate(tags) if tag.startswith("I-")}
    starts = sorted(inside)
    transitions = [
        (previous, index)
        for index, kind in inside.items()
        for previous, tag in enumerate(tags)
        if tag not in (f"B-{kind}", f"I-{kind}")
    ]
    return starts, transitions


def log_sum_exp(scores: torch.Tensor) -> tuple[torch.Tensor, None]:
    """The sum-product reduction over the previous tag (dim 1): partition functions."""
    return scores.logsumexp(1), None


def maximum(scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The max-product reduction over the previous tag (dim 1), with the argmax: Viterbi."""
    return scores.max(1)


class LinearChainCRF(nn.Module):
    """
    Scores a tag sequence y_1..y_n of a sentence as

        start[y_1] + sum_t emissions_t[y_t] + sum_t transitions[y_t-1, y_t] + end[y_n]

    and normalises over all num_tags ** n sequences. Parameters: `transitions` `(num_tags, num_tags)` indexed
    [previous tag, next tag], `start_transitions` and `end_transitions` `(num_tags,)`.

    `forbidden_starts` (tag ids) and `forbidden_transitions` ((previous, next) pairs), e.g. from `iob2_forbidden`,
    never occur in a decoded sequence (Viterbi, max-marginals). Training's likelihood keeps them, so a sentence whose
    gold tags break the rule (IOB1-style data) costs a finite loss rather than an infinite one.
    """

    def __init__(
        self,
        num_tags: int,
        forbidden_starts: Sequence[int] = (),
        forbidden_transitions: Sequence[tuple[int, int]] = (),
    ):
        super().__init__()
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))
        self.start_transitions = nn.Parameter(torch.zeros(num_tags))
        self.end_transitions = nn.Parameter(torch.zeros(num_tags))
        # Plain lists, not buffers: derived from the config, they survive building on the meta device unchanged.
        self.forbidden_starts = list(forbidden_starts)
        self.forbidden_transitions = list(forbidden_transitions)

    def decoding_scores(self) -> tuple[torch.Tensor, torch.Tensor]:
        """`start_transitions` and `transitions` with -inf where decoding is forbidden."""
        start, transitions = self.start_transitions, self.transitions
        if self.forbidden_starts:
            start = start.index_fill(0, torch.tensor(self.forbidden_starts, device=start.device), float("-inf"))
        if self.forbidden_transitions:
            previous, following = torch.tensor(self.forbidden_transitions, device=transitions.device).T
            transitions = transitions.index_put((previous, following), transitions.new_tensor(float("-inf")))
        return start, transitions

    def chain_forward(
        self, emissions: torch.Tensor, mask: torch.Tensor, reduce, reverse: bool = False, decoding: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """
        The forward recursion alpha_t[j] = reduce_i(alpha_t-1[i] + transitions[i, j]) + emissions_t[j], started at a
        row's first real token by start_transitions and closed by end_transitions. With `reverse`, the same
        recursion from the last token back (transitions transposed, start and end swapped): it gives the best or
        summed score of every suffix. With `decoding`, forbidden starts and transitions score -inf.

        Returns the closed totals `(batch,)` (0 for a row without real tokens), alpha at every step
        `(batch, time, num_tags)` (carried unchanged across masked steps; in the caller's time order), and, for a
        reduction that returns them, the argmax pointers of each step `(batch, num_tags)` (identity where the
        step does not continue a chain), in recursion order.
        """
        emissions = emissions.float()
        first, transitions = self.decoding_scores() if decoding else (self.start_transitions, self.transitions)
        last = self.end_transitions
        if reverse:
            emissions, mask, transitions, first, last = emissions.flip(1), mask.flip(1), transitions.T, last, first
        identity = torch.arange(self.num_tags, device=emissions.device).expand(emissions.size(0), -1)
        # Before a row's first real token, `alpha` holds a placeholder that the first real step replaces.
        alpha = first + emissions[:, 0]
        started = mask[:, 0]
        steps, pointers = [alpha], []
        for t in range(1, emissions.size(1)):
            real = mask[:, t, None]
            continued, pointer = reduce(alpha.unsqueeze(2) + transitions)
            alpha = torch.where(real, torch.where(started[:, None], continued, first) + emissions[:, t], alpha)
            if pointer is not None:
                pointers.append(torch.where(real & started[:, None], pointer, identity))
            started = started | mask[:, t]
            steps.append(alpha)
        totals = reduce((alpha + last).unsqueeze(2))[0].squeeze(1)
        alphas = torch.stack(steps, 1)
        return torch.where(started, totals, 0.0), alphas.flip(1) if reverse else alphas, pointers

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """`(batch,)` log Z: the log-sum-exp of the scores of every tag sequence over each row's real tokens."""
        return self.chain_forward(emissions, mask, log_sum_exp)[0]

    def negative_log_likelihood(
        self, emissions: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor
    ) -> torch.Tensor:
        """
        `(batch,)` -log P(labels | emissions), summed over each row's real tokens.

        A real token labelled -100 (a word's continuation piece, a special token) is a link of the chain whose tag
        is not observed: the likelihood sums over its tags, log P = log Z(sequences that agree with the labels) -
        log Z(all sequences). Decoding runs over every real token, so training and inference see the same chain
        whatever the tokenizer (the pipeline cannot say which pieces start a word). With every real token labelled
        this is the usual gold-path score minus log Z. Labels at masked positions are not part of any chain.
        """
        num_rows = emissions.size(0)
        agrees = (labels == NOT_SCORED).unsqueeze(-1) | nn.functional.one_hot(labels.clamp(min=0), self.num_tags).bool()
        observed = emissions.float().masked_fill(~agrees, float("-inf"))
        # One recursion for both partition functions.
        log_z = self.log_partition(torch.cat([emissions.float(), observed]), mask.repeat(2, 1))
        return log_z[:num_rows] - log_z[num_rows:]

    def viterbi(self, emissions: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """
        The best allowed tag sequence of each row: `(batch, time)` tag ids (-100 at masked positions) and its score
        `(batch,)` (0 for a row without real tokens).
        """
        best_scores, prefixes, pointers = self.chain_forward(emissions, mask, maximum, decoding=True)
        return self.backtrack(prefixes, pointers, mask), best_scores

    def backtrack(self, prefixes: torch.Tensor, pointers: list[torch.Tensor], mask: torch.Tensor) -> torch.Tensor:
        """The Viterbi path `(batch, time)` from the max-product recursion's steps and pointers (`chain_forward`)."""
        tag = (prefixes[:, -1] + self.end_transitions).argmax(-1)
        tags = [tag]
        for pointer in reversed(pointers):  # identity pointers carry the tag across masked steps
            tag = pointer.gather(1, tag.unsqueeze(1)).squeeze(1)
            tags.append(tag)
        return torch.stack(tags[::-1], 1).masked_fill(~mask, NOT_SCORED)

    def max_marginals(self, emissions: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """
        Per token and tag, how far the best sequence that gives the token that tag falls short of the best sequence
        of all: `(batch, time, num_tags)` scores <= 0, 0 at the Viterbi tag (ties broken toward it, so the argmax
        over tags is the Viterbi path exactly), -inf for a tag that no allowed sequence gives the token, 0 at masked
        positions. Also returns that path `(batch, time)`.
        """
        best_scores, prefixes, pointers = self.chain_forward(emissions, mask, maximum, decoding=True)
        path = self.backtrack(prefixes, pointers, mask)
        suffixes = self.chain_forward(emissions, mask, maximum, reverse=True, decoding=True)[1]
        # Both the best prefix ending in a tag and the best suffix starting with it count its emission.
        through = prefixes + suffixes - emissions.float() - best_scores[:, None, None]
        on_path = nn.functional.one_hot(path.clamp(min=0), self.num_tags).bool()
        below_zero = -torch.finfo(through.dtype).tiny
        scores = torch.where(on_path, 0.0, through.clamp(max=below_zero))
        return scores.masked_fill(~mask.unsqueeze(-1), 0.0), path
