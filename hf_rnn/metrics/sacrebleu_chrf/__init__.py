"""The `sacrebleu_chrf` evaluate module (a package only so that its .py ships with hf_rnn)."""
