"""The search space of dlbook's Optuna sweeper: Hydra override strings to Optuna distributions, and back.

``hydra.sweeper.params`` and the command line's sweeps use Hydra's own override grammar, so a search
reads like a ``-m`` sweep: ``choice(4,16,512)`` and ``4,16,512`` are categorical, ``range(1,10)`` is the
integers 1 to 9 (stop excluded, as everywhere in Hydra; hydra-optuna-sweeper includes it),
``interval(0.0,0.5)`` is a float interval (``int(interval(1,100))`` an integer one) and ``tag(log, ...)``
samples on a log scale. Anything that is not a sweep is passed to every trial unchanged.

Optuna is imported only when a search starts: Hydra imports every plugin module at each start-up, in a way
that breaks dataclasses with string annotations (so no ``from __future__ import annotations`` here).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import IntervalSweep, Override, RangeSweep

from dlbook.errors import ConfigError


@dataclass
class SearchSpace:
    """What each trial samples (``distributions``) and the overrides every trial gets as they are."""

    distributions: dict[str, Any] = field(default_factory=dict)
    fixed: list[str] = field(default_factory=list)
    # Parameters whose categorical choices are held as override text (lists, strings): passed on verbatim.
    verbatim: set[str] = field(default_factory=set)

    def overrides(self, params: Mapping[str, Any]) -> list[str]:
        """A trial's job overrides: its sampled ``params`` (name -> value), then the fixed overrides."""
        sampled = []
        for name in self.distributions:
            value = params[name]
            text = value if name in self.verbatim else Override._get_value_element_as_str(value)
            sampled.append(f"{name}={text}")
        return sampled + self.fixed


def parse_search_space(
    params: Mapping[str, Any] | None, arguments: Sequence[str], parser: OverridesParser | None = None
) -> SearchSpace:
    """The search space of ``hydra.sweeper.params`` (key -> override value) and the command-line ``arguments``.

    A key given on the command line replaces the same key of ``params``.
    """
    parser = parser or OverridesParser.create()
    lines = [f"{key}={value}" for key, value in (params or {}).items()]
    try:
        overrides = parser.parse_overrides([*lines, *arguments])
    except Exception as error:  # Hydra's grammar errors say where the text went wrong
        raise ConfigError(
            f"hydra.sweeper.params or a command-line override is not valid: {error}. Write each parameter in "
            "Hydra's override grammar, e.g. model.units: choice(4,16,512), optimizer.learning_rate: "
            "tag(log, interval(1e-4,1e-2)), trainer.epochs: 20."
        ) from error
    latest: dict[str, Override] = {}
    for override in overrides:
        latest.pop(override.key_or_group, None)  # the command line wins, in its own place
        latest[override.key_or_group] = override
    space = SearchSpace()
    for override in latest.values():
        if not override.is_sweep_override():
            space.fixed.append(override.input_line or f"{override.get_key_element()}={override.get_value_string()}")
            continue
        name = override.get_key_element()
        space.distributions[name], verbatim = to_distribution(override)
        if verbatim:
            space.verbatim.add(name)
    return space


def to_distribution(override: Override) -> tuple[Any, bool]:
    """The Optuna distribution of one sweep override, and whether its choices are override text."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    name = override.get_key_element()
    value = override.value()
    try:
        if override.is_interval_sweep():
            assert isinstance(value, IntervalSweep)
            log = "log" in value.tags
            if _all_ints(value.start, value.end):
                return IntDistribution(int(value.start), int(value.end), log=log), False
            return FloatDistribution(float(value.start), float(value.end), log=log), False
        if override.is_range_sweep() and not value.shuffle:
            assert isinstance(value, RangeSweep)
            numbers = list(override.sweep_iterator())
            if not numbers:
                raise ValueError("the range holds no value")
            low, high, step = min(numbers), max(numbers), abs(value.step)
            if _all_ints(value.start, value.stop, value.step):
                return IntDistribution(int(low), int(high), step=int(step)), False
            return FloatDistribution(float(low), float(high), step=float(step)), False
        if override.is_discrete_sweep():  # choice(...), a,b,c, glob(...), shuffle(range(...))
            choices = list(override.sweep_iterator())
            if all(isinstance(choice, (int, float)) and not isinstance(choice, bool) for choice in choices):
                return CategoricalDistribution(choices), False
            return CategoricalDistribution(list(override.sweep_string_iterator())), True
    except ValueError as error:
        raise ConfigError(
            f"hydra.sweeper.params.{name}={override.get_value_string()} is not valid: {error}."
        ) from error
    raise ConfigError(
        f"hydra.sweeper.params.{name}={override.get_value_string()} is not valid: dlbook's Optuna sweeper "
        "searches choice(...), range(...), interval(...) and tag(log, interval(...)); give one of these or a "
        "plain value."
    )


def _all_ints(*numbers: Any) -> bool:
    return all(isinstance(number, int) and not isinstance(number, bool) for number in numbers)
