"""Character-level word features: each token's spelling read by a character BiLSTM (Lample et al. 2016) or a CNN
with max-pooling over characters (Ma & Hovy 2016), joined to its word embedding.

Part of the Hub bundle (imports torch, and modeling_rnn's export path when exporting). The spellings are a buffer of
the model, the character ids of every token id, saved with the weights: the model derives a token's characters from
its id, so pipelines, generation and remote code need no new input. The price: a word the tokenizer maps to its
unknown token has no spelling, so keep the tokenizer's whole training vocabulary rather than a frequency cut.
"""

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

# Character ids: 0 pads a spelling, 1 is any character outside the alphabet, the alphabet's characters follow.
PAD_CHAR, UNKNOWN_CHAR, FIRST_CHAR = 0, 1, 2
CNN_WIDTH = 3  # characters each filter reads, as in Ma & Hovy


def spelling_alphabet(spellings: Sequence[str | None]) -> str:
    """The sorted distinct characters of `spellings` (one string per token id): a config's `char_alphabet`."""
    return "".join(sorted(set("".join(spelling or "" for spelling in spellings))))


class CharacterWordEncoder(nn.Module):
    """
    `(batch, time)` token ids -> `(batch, time, config.char_output_size)` features of their spellings, each word
    encoded on its own: the result for a token depends on its id only, never on padding or on the batch's other words.

    Buffer `spellings` `(vocab_size, char_max_word_length)`: each token's character ids from the left, 0 after
    its end; an all-zero row (special tokens, or before `set_spellings`) has no characters and encodes to zeros.
    """

    def __init__(self, config):
        super().__init__()
        self.alphabet = config.char_alphabet
        self.max_word_length = config.char_max_word_length
        self.register_buffer(
            "spellings", torch.zeros(config.vocab_size, config.char_max_word_length, dtype=torch.int32)
        )
        self.embed_chars = nn.Embedding(FIRST_CHAR + len(config.char_alphabet), config.char_embedding_size)
        self.kind = config.char_encoder
        if self.kind == "lstm":
            self.lstm = nn.LSTM(
                config.char_embedding_size, config.char_hidden_size, batch_first=True, bidirectional=True
            )
        else:
            self.conv = nn.Conv1d(
                config.char_embedding_size, config.char_hidden_size, CNN_WIDTH, padding=CNN_WIDTH // 2
            )
        self.output_size = config.char_output_size

    @torch.no_grad()
    def set_spellings(self, spellings: Sequence[str | None]) -> None:
        """
        Fill the table from one string per token id (`None` or "" for a token without characters, e.g. a special
        token). A spelling longer than `char_max_word_length` keeps its beginning and its end (prefixes and suffixes
        both carry the signal), e.g. the first 10 and last 10 characters of 20.
        """
        if len(spellings) > self.spellings.size(0):
            raise ValueError(
                f"{len(spellings)} spellings for a vocabulary of {self.spellings.size(0)} tokens (config.vocab_size)."
            )
        ids = {char: FIRST_CHAR + index for index, char in enumerate(self.alphabet)}
        width, tail = self.max_word_length, self.max_word_length // 2
        table = torch.zeros_like(self.spellings)
        for token_id, spelling in enumerate(spellings):
            spelling = spelling or ""
            if len(spelling) > width:
                spelling = spelling[: width - tail] + spelling[len(spelling) - tail :]
            table[token_id, : len(spelling)] = torch.tensor([ids.get(char, UNKNOWN_CHAR) for char in spelling])
        self.spellings.copy_(table)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        # Imported here: modeling_rnn imports this module.
        from .modeling_rnn import is_exporting, scan_layer

        exporting = is_exporting()
        if exporting:  # unique's size depends on the data, which an exported graph cannot have: every position
            words, where = input_ids.flatten(), torch.arange(input_ids.numel(), device=input_ids.device)
            where = where.view(input_ids.shape)
        else:  # each distinct token of the batch once: padding and repeated words cost nothing
            words, where = torch.unique(input_ids, return_inverse=True)
        chars = self.spellings[words].long()  # (words, max_word_length)
        is_char = chars != PAD_CHAR
        lengths = is_char.sum(1)
        # Zeros at padding characters, whatever their embedding row: the CNN's edge filters then see a word's end as
        # they see the edge of the table, so the table's width never changes a result.
        embedded = self.embed_chars(chars) * is_char.unsqueeze(-1)
        if self.kind == "lstm":
            if exporting:  # packing cannot be exported: the same loop over characters, skipping the padding
                _, (final, _) = scan_layer(self.lstm, dict(self.lstm.named_parameters()), embedded, None, is_char)
            else:
                lengths_on_cpu = lengths.clamp(min=1).cpu()
                packed = pack_padded_sequence(embedded, lengths_on_cpu, batch_first=True, enforce_sorted=False)
                _, (final, _) = self.lstm(packed)  # final: (2 directions, words, hidden)
            encoded = torch.cat([final[0], final[1]], dim=-1)
        else:
            filtered = self.conv(embedded.transpose(1, 2))  # (words, filters, max_word_length)
            encoded = filtered.masked_fill(~is_char.unsqueeze(1), float("-inf")).amax(-1)
        # A token without characters (special tokens) has no features.
        encoded = encoded.masked_fill((lengths == 0).unsqueeze(-1), 0.0)
        return encoded[where]
