"""The base of every config section: unknown keys are errors, values are frozen."""

from __future__ import annotations

import warnings

from pydantic import BaseModel, ConfigDict

# The stage is called "validate"; as a field name it shadows pydantic's deprecated BaseModel.validate, harmlessly.
warnings.filterwarnings("ignore", message='Field name "validate"', category=UserWarning)


class Section(BaseModel):
    # extra="forbid" turns a typo into an error instead of a silently ignored key.
    model_config = ConfigDict(extra="forbid", frozen=True)
