"""Task pipelines that transformers 5 no longer ships: translation.

Importing hf_rnn registers them with `transformers.pipelines.PIPELINE_REGISTRY`, so `transformers.pipeline()`
builds them by task name.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import AutoModelForSeq2SeqLM, GenerationConfig, Pipeline
from transformers.pipelines import PIPELINE_REGISTRY

# "translation" itself cannot be used: transformers 5.23 lists it in `REMOVED_TASKS`, and `pipeline("translation")`
# raises a KeyError before it looks at the registry (pipelines/__init__.py, `_resolve_deprecated_task`).
TRANSLATION_TASK = "hf-rnn-translation"


class TranslationPipeline(Pipeline):
    """
    Translate text with any sequence-to-sequence model (`AutoModelForSeq2SeqLM`), hf_rnn's included.

    Registered under the task name `"hf-rnn-translation"` (`hf_rnn.pipelines.TRANSLATION_TASK`); the name
    `"translation"` is reserved by transformers 5.23, which refuses it as a removed task.

    ```python
    import hf_rnn  # registers the task
    from transformers import pipeline

    translator = pipeline("hf-rnn-translation", model="path/to/saved/model")
    translator("ein kleines Haus", num_beams=4, max_new_tokens=40)  # [{"translation_text": "a small house"}]
    translator(["ein Haus", "ein Hund"], batch_size=2)  # one dict per input
    ```

    Each source text is encoded with `tokenizer(text)` exactly as the tokenizer does it (no special tokens added
    here): train on sources encoded the same way. Outputs are decoded with `skip_special_tokens=True`. Generation
    parameters (`max_new_tokens`, `num_beams`, `length_penalty`, `do_sample`, `num_return_sequences`, ...) are
    passed to `generate()`, at construction or per call; without any length setting, up to 256 new tokens.
    """

    _pipeline_calls_generate = True
    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False
    _load_tokenizer = True
    _default_generation_config = GenerationConfig(max_new_tokens=256)

    def _sanitize_parameters(
        self,
        truncation: bool | str | None = None,
        clean_up_tokenization_spaces: bool | None = None,
        **generate_kwargs,
    ) -> tuple[dict, dict, dict]:
        preprocess_params = {} if truncation is None else {"truncation": truncation}
        postprocess_params = {}
        if clean_up_tokenization_spaces is not None:
            postprocess_params["clean_up_tokenization_spaces"] = clean_up_tokenization_spaces
        return preprocess_params, generate_kwargs, postprocess_params

    def __call__(self, inputs: str | list[str], **kwargs) -> list[dict[str, str]] | list[list[dict[str, str]]]:
        """
        Args:
            inputs: one text, or a list of texts (translated in batches of `batch_size`).

        Returns:
            For one text, `[{"translation_text": ...}]` (one dict per returned sequence). For a list, one dict per
            text, or one such list per text when `num_return_sequences > 1`.
        """
        results = super().__call__(inputs, **kwargs)
        if isinstance(inputs, (list, tuple)) and all(len(result) == 1 for result in results):
            return [result[0] for result in results]
        return results

    def preprocess(self, text: str, truncation: bool | str = False) -> dict[str, torch.Tensor]:
        if not isinstance(text, str):
            raise ValueError(f"{type(self).__name__} translates strings; got {type(text).__name__}.")
        return self.tokenizer(text, return_tensors="pt", truncation=truncation)

    def _forward(self, model_inputs: dict[str, torch.Tensor], **generate_kwargs) -> dict[str, torch.Tensor]:
        batch_size = model_inputs["input_ids"].shape[0]
        output_ids = self.model.generate(**model_inputs, **self._prepare_generate_kwargs(generate_kwargs))
        # (batch * num_return_sequences, length) -> (batch, num_return_sequences, length)
        return {"output_ids": output_ids.reshape(batch_size, -1, output_ids.shape[-1])}

    def postprocess(
        self, model_outputs: dict[str, Any], clean_up_tokenization_spaces: bool = False
    ) -> list[dict[str, str]]:
        return [
            {
                "translation_text": self.tokenizer.decode(
                    ids, skip_special_tokens=True, clean_up_tokenization_spaces=clean_up_tokenization_spaces
                )
            }
            for ids in model_outputs["output_ids"][0]
        ]


def register_pipelines() -> None:
    PIPELINE_REGISTRY.register_pipeline(
        TRANSLATION_TASK, pipeline_class=TranslationPipeline, pt_model=AutoModelForSeq2SeqLM, type="text"
    )


__all__ = ["TRANSLATION_TASK", "TranslationPipeline", "register_pipelines"]
