"""The KMIP normalized-name rule (KMIP Additional Message Encodings v1.0 §4.1.3, rules 1-6)."""
import re


def normalize(text: str) -> str:
    no_brackets = re.sub(r"[()]", " ", text)                                  # 1
    non_word_to_space = re.sub(r"\W([A-Za-z][a-z])", r" \1", no_brackets)    # 2
    words = [re.sub(r"\W", "_", s) for s in non_word_to_space.split()]       # 3
    words[0] = re.sub(r"^(\d+)(.*)", r"\2\1", words[0])                      # 4
    words = [s[0].upper() + s[1:] for s in words]                            # 5
    return "".join(words)                                                    # 6
