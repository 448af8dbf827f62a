"""Error types shared by every layer, each carrying where the problem is and how to fix it."""

from __future__ import annotations

from typing import Any

#: Process exit codes used by the CLI.
EXIT_OK = 0
EXIT_INVALID = 1
EXIT_BAD_INPUT = 2
#: ``post``: the server could not be reached (after every retry); nothing was sent
EXIT_UNREACHABLE = 3


class FhirAdapterError(Exception):
    """Base class for every error fhir-adapter raises on purpose."""

    exit_code = EXIT_BAD_INPUT


class InputError(FhirAdapterError):
    """Bad user input: a file, a field within it, and the fix.

    ``str(err)`` reads ``file:line:column: field: message (fix: ...)`` with absent parts left
    out (line and column are 1-based).
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
        fix: str | None = None,
        column: int | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.field = field
        self.fix = fix
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file if self.line is None else f"{self.file}:{self.line}"
            if self.line is not None and self.column is not None:
                where += f":{self.column}"
        parts = [p for p in (where, self.field) if p]
        text = ": ".join([*parts, self.message])
        if self.fix:
            text += f" (fix: {self.fix})"
        return text


class CaseError(InputError):
    """A case file that cannot be read or does not follow the case format.

    One error may carry several ``problems`` (each an :class:`InputError`); ``str()`` lists all.
    """

    problems: list[InputError]

    def __init__(self, message: str, **where: Any) -> None:
        self.problems = [self]
        super().__init__(message, **where)

    @classmethod
    def collect(cls, problems: list[InputError]) -> CaseError:
        """One error reporting every problem found, in file order."""
        first = problems[0]
        err = cls(
            first.message,
            file=first.file,
            line=first.line,
            field=first.field,
            fix=first.fix,
            column=first.column,
        )
        err.problems = list(problems)
        return err

    def __str__(self) -> str:
        problems = getattr(self, "problems", None)
        if not problems or len(problems) == 1 or problems[0] is self:
            return super().__str__()
        head = f"{len(problems)} problems in {problems[0].file}:"
        return "\n".join([head, *(f"  {InputError.__str__(p)}" for p in problems)])


class MappingError(InputError):
    """A terminology table in ``mappings/`` that is malformed, or a concept it lacks."""


class ProfileError(InputError):
    """A profile output mode that cannot be produced: unknown mode or version, or a fact the
    mode needs (such as the document's time) that neither the case nor the environment gives."""
