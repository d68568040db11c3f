"""Filters, one module per family. Each computes its metric once (``Filter.stats``, cached in
``meta["stats"]``) and decides from the cached value, so a threshold change re-decides only.

Importing this package registers: ``length_filter``, ``turns_filter``, ``empty_answer_filter``,
``char_repetition_filter``, ``word_repetition_filter``, ``special_char_filter``,
``char_ratio_filter``, ``refusal_filter``, ``flagged_words_filter``, ``language_filter`` and ``field_filter``.
"""

from .empty import DEFAULT_PLACEHOLDERS, EmptyAnswerFilter
from .fields import FieldFilter, field_value
from .flagged import FlaggedWordsFilter, load_word_list
from .language import LanguageFilter, detect_language
from .length import LengthFilter, load_tokenizer
from .ratios import CharRatioFilter, SpecialCharFilter, char_ratio, special_ratio
from .refusal import DEFAULT_REFUSALS, RefusalFilter
from .repetition import CharRepetitionFilter, WordRepetitionFilter, char_rep_ratio, word_rep_ratio
from .threshold import RangeFilter
from .turns import TurnsFilter

__all__ = [
    "DEFAULT_PLACEHOLDERS",
    "DEFAULT_REFUSALS",
    "CharRatioFilter",
    "CharRepetitionFilter",
    "EmptyAnswerFilter",
    "FieldFilter",
    "FlaggedWordsFilter",
    "LanguageFilter",
    "LengthFilter",
    "RangeFilter",
    "RefusalFilter",
    "SpecialCharFilter",
    "TurnsFilter",
    "WordRepetitionFilter",
    "char_ratio",
    "char_rep_ratio",
    "detect_language",
    "field_value",
    "load_tokenizer",
    "load_word_list",
    "special_ratio",
    "word_rep_ratio",
]
