"""The base of every config section: unknown keys are errors, values are frozen."""

from __future__ import annotations

import warnings
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict

# The stage is called "validate"; as a field name it shadows pydantic's deprecated BaseModel.validate, harmlessly.
warnings.filterwarnings("ignore", message='Field name "validate"', category=UserWarning)


class Section(BaseModel):
    # extra="forbid" turns a typo into an error instead of a silently ignored key.
    model_config = ConfigDict(extra="forbid", frozen=True)


def yaml_switch(value):
    # YAML 1.1 reads a bare on/off as a boolean (`arm_parity: on`, `-o validate.arm_parity=on`): take the word meant
    return {True: "on", False: "off"}.get(value, value) if isinstance(value, bool) else value


Switch = Annotated[Literal["auto", "on", "off"], BeforeValidator(yaml_switch)]
