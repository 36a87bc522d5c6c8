"""The `accuracy_f1` evaluate module (a package only so that its .py ships with hf_rnn)."""
