"""Apache Spark: validate FHIR NDJSON and convert case files on a cluster.

Install with ``pip install 'fhir-adapter[spark]'`` (PySpark) on the driver and the executors.

- :func:`validate_ndjson` gives one row per resource line: ``file``, ``line``, ``resourceType``,
  ``id``, ``valid`` and ``issues`` (``array<struct<severity, rule, path, message>>``), the same
  findings as :meth:`fhir_adapter.Validator.iter_ndjson` on each file.
- :func:`convert_cases` gives one row per resource (``case``, ``resourceType``, ``id``,
  ``resource`` as JSON text), as ``fhir-adapter convert --ndjson`` writes them.

Both are lazy transformations: nothing is collected on the driver. Files are read by Spark's
own text source (any file system Spark reads); the validator's tables load once per Python
worker process and are reused by every task that worker runs.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, Row, SparkSession

    from fhir_adapter.validation import Validator

#: Names of case files in the directories given to :func:`convert_cases` (Hadoop glob).
CASE_GLOB = "*.case.{yaml,yml,json}"
#: Names of NDJSON files in the directories given to :func:`validate_ndjson` (Hadoop glob).
NDJSON_GLOB = "*.ndjson"


def _types() -> Any:
    from pyspark.sql import types as T

    return T


def issue_type() -> Any:
    """``struct<severity, rule, path, message>``: one validation issue."""
    T = _types()
    return T.StructType(
        [
            T.StructField(name, T.StringType(), False)
            for name in ("severity", "rule", "path", "message")
        ]
    )


def validation_schema() -> Any:
    """The schema of :func:`validate_ndjson`'s DataFrame."""
    T = _types()
    return T.StructType(
        [
            T.StructField("file", T.StringType(), False),
            T.StructField("line", T.LongType(), False),
            T.StructField("resourceType", T.StringType(), True),
            T.StructField("id", T.StringType(), True),
            T.StructField("valid", T.BooleanType(), False),
            T.StructField("issues", T.ArrayType(issue_type(), False), False),
        ]
    )


def resource_schema() -> Any:
    """The schema of :func:`convert_cases`'s DataFrame."""
    T = _types()
    return T.StructType(
        [
            T.StructField("case", T.StringType(), False),
            T.StructField("resourceType", T.StringType(), False),
            T.StructField("id", T.StringType(), True),
            T.StructField("resource", T.StringType(), False),
        ]
    )


# ------------------------------------------------------------------ executor side

_VALIDATORS: dict[tuple[Any, ...], Validator] = {}


def _validator(only: tuple[str, ...] | None, skip: tuple[str, ...] | None) -> Validator:
    """This process's Validator for these options (compiled on first use, then reused)."""
    key = (only, skip)
    v = _VALIDATORS.get(key)
    if v is None:
        from fhir_adapter.validation import Validator

        v = _VALIDATORS[key] = Validator(only=only, skip=skip)
    return v


def _validate_rows(
    only: tuple[str, ...] | None, skip: tuple[str, ...] | None, rows: Iterable[Row]
) -> Iterator[tuple[Any, ...]]:
    """(file, block, line within block, resourceType, id, valid, issues) per non-blank line.

    Rows arrive in file order within each block (a scan partition may hold several blocks).
    """
    import orjson

    validator = _validator(only, skip)
    current, n = None, 0
    for row in rows:
        where = (row.file, row.block)
        n = n + 1 if where == current else 1
        current = where
        text = row.value
        if not text.strip():
            continue
        report = validator.validate_text(text)
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            data = None
        rtype = data.get("resourceType") if isinstance(data, dict) else None
        rid = data.get("id") if isinstance(data, dict) else None
        yield (
            row.file,
            row.block,
            n,
            rtype if isinstance(rtype, str) else None,
            rid if isinstance(rid, str) else None,
            report.ok,
            [(i.severity, i.rule, i.path, i.message) for i in report.issues],
        )


def _convert_rows(validate: bool, rows: Iterable[Row]) -> Iterator[tuple[Any, ...]]:
    """(case, caseOk, resourceType, id, resource) per resource, or one OperationOutcome row."""
    from fhir_adapter.bulk import export

    export.setup_worker(validate)
    for row in rows:
        out = export.convert_case(row.case, text=row.value)
        if out.failure is not None:
            yield (
                row.case,
                False,
                "OperationOutcome",
                None,
                export.ndjson_text(out.failure.outcome),
            )
            continue
        for rtype, rid, line in out.lines:
            yield (row.case, True, rtype, rid, line.decode("utf-8").rstrip("\n"))


# ------------------------------------------------------------------ driver side


def _paths(paths: str | Iterable[str]) -> list[str]:
    return [paths] if isinstance(paths, str) else [str(p) for p in paths]


def _read_text(spark: SparkSession, paths: str | Iterable[str], glob: str, **options: Any) -> Any:
    """Spark's text source (``value``, ``file``, ``block``: the file's URI and the start of
    the block read) over files named (whatever their names) and the files matching
    ``glob`` anywhere under directories named, as the CLI searches directories: a Bulk Data
    ``manifest.json`` beside the NDJSON files is not read as data. Paths may be Hadoop globs;
    only file metadata is read here, on the driver. A path that matches nothing, or a
    directory without a matching file, is an InputError."""
    from pyspark.sql import functions as F

    from fhir_adapter.errors import InputError

    jvm = spark.sparkContext._jvm
    assert jvm is not None
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    accept = jvm.org.apache.hadoop.fs.GlobFilter(glob)
    files: list[str] = []
    dirs: list[str] = []
    for name in _paths(paths):
        path = jvm.org.apache.hadoop.fs.Path(name)
        fs = path.getFileSystem(conf)
        found = fs.globStatus(path) or []
        if not found:
            raise InputError("file not found", file=name, fix="check the path")
        for status in found:
            where = status.getPath()
            if not status.isDirectory():
                files.append(where.toString())
                continue
            listing = fs.listFiles(where, True)
            while listing.hasNext():
                if accept.accept(listing.next().getPath()):
                    dirs.append(where.toString())
                    break
            else:
                raise InputError(
                    f"no {glob} files in this directory",
                    file=name,
                    fix=f"give a directory holding {glob} files, or the files themselves",
                )
    reads = []
    if files:
        reads.append(spark.read.text(files, **options))
    if dirs:
        reads.append(
            spark.read.text(dirs, recursiveFileLookup=True, pathGlobFilter=glob, **options)
        )
    frames = [  # the file metadata columns exist only before a union
        df.select(
            "value",
            F.col("_metadata.file_path").alias("file"),
            F.col("_metadata.file_block_start").alias("block"),
        )
        for df in reads
    ]
    return functools.reduce(lambda a, b: a.unionByName(b), frames)


def validate_ndjson(
    spark: SparkSession,
    paths: str | Iterable[str],
    *,
    only: Iterable[str] | None = None,
    skip: Iterable[str] | None = None,
) -> DataFrame:
    """One row per resource line of the NDJSON files at ``paths``: files named, and the
    ``*.ndjson`` files anywhere under directories named (a ``manifest.json`` is not data).

    Columns: ``file`` (as Spark names it, e.g. ``file:/data/Patient.ndjson``), ``line``
    (1-based, blank lines counted), ``resourceType`` and ``id`` (null when absent or the line is
    not JSON), ``valid`` (no error or fatal issue) and ``issues``. Lines end at ``\\n``. The
    files are scanned twice: once by the JVM to count lines per block (for line numbers), once
    to validate. ``only``/``skip`` choose layers as for :class:`~fhir_adapter.Validator`.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    only_t = tuple(only) if only is not None else None
    skip_t = tuple(skip) if skip is not None else None
    _validator(only_t, skip_t)  # a bad layer name fails here, on the driver
    T = _types()
    text = _read_text(spark, paths, NDJSON_GLOB, lineSep="\n")
    # Lines before each block of a file: a small table (one row per block), joined back.
    earlier = Window.partitionBy("file").orderBy("block").rowsBetween(Window.unboundedPreceding, -1)
    offsets = (
        text.groupBy("file", "block")
        .count()
        .select("file", "block", F.coalesce(F.sum("count").over(earlier), F.lit(0)).alias("before"))
    )
    partial_schema = T.StructType(
        [
            T.StructField("file", T.StringType(), False),
            T.StructField("block", T.LongType(), False),
            T.StructField("n", T.LongType(), False),
            *validation_schema().fields[2:],
        ]
    )
    rows = text.rdd.mapPartitions(functools.partial(_validate_rows, only_t, skip_t))
    validated = spark.createDataFrame(rows, partial_schema, verifySchema=False)
    return validated.join(F.broadcast(offsets), ["file", "block"]).select(
        "file",
        (F.col("before") + F.col("n")).alias("line"),
        "resourceType",
        "id",
        "valid",
        "issues",
    )


def convert_cases(
    spark: SparkSession, paths: str | Iterable[str], *, validate: bool = True
) -> DataFrame:
    """One row per resource converted from the case files (or directories of them) at ``paths``.

    Columns: ``case`` (the case file, as Spark names it), ``resourceType``, ``id``, ``resource``
    (compact JSON, references ``Type/id``), as ``fhir-adapter convert --ndjson`` writes them.
    A resource that several cases produce identically appears once (from the case whose path
    sorts first); a case that fails (unreadable, invalid FHIR, or a resource clashing with an
    earlier case's) gives one row of resourceType ``OperationOutcome`` (id null) saying why, as
    a Bulk Data export lists errors. Directories are searched for ``*.case.yaml|yml|json``.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    files = _read_text(spark, paths, CASE_GLOB, wholetext=True).select(
        "value", F.col("file").alias("case")
    )
    T = _types()
    schema = T.StructType(
        [
            resource_schema().fields[0],
            T.StructField("caseOk", T.BooleanType()),
            *resource_schema().fields[1:],
        ]
    )
    rows = spark.createDataFrame(
        files.rdd.mapPartitions(functools.partial(_convert_rows, validate)),
        schema,
        verifySchema=False,
    )
    ok = rows.where("caseOk")
    # A case with a resource that an earlier case (by path) made differently is refused as a
    # whole; of the identical copies left, the earliest case's is kept. This is the one-machine
    # export's rule, except that when three or more case files share a case id and disagree,
    # a case is also compared with ones refused before it.
    by_key = Window.partitionBy("resourceType", "id").orderBy("case")
    firsts = ok.select(
        "case",
        F.concat_ws("/", "resourceType", "id").alias("key"),
        (F.col("resource") != F.first("resource").over(by_key)).alias("differs"),
        F.first("case").over(by_key).alias("other"),
    )
    clashes = (
        firsts.where("differs")
        .groupBy("case")
        .agg(F.min(F.struct("key", "other")).alias("clash"))
        .select("case", "clash.key", "clash.other")
    )
    kept = (
        ok.join(clashes.select("case"), "case", "left_anti")
        .select("*", F.row_number().over(by_key).alias("copy"))
        .where("copy = 1")
    )
    columns = ["case", "resourceType", "id", "resource"]
    clash_rows = clashes.select(
        "case",
        F.lit("OperationOutcome").alias("resourceType"),
        F.lit(None).cast("string").alias("id"),
        _clash_outcome("case", "key", "other").alias("resource"),
    )
    failed = rows.where(~F.col("caseOk")).select(*columns)
    return kept.select(*columns).unionByName(failed).unionByName(clash_rows)


def _clash_outcome(case: str, key: str, other: str) -> Any:
    from pyspark.sql import functions as F

    udf = F.udf(lambda c, k, o: _clash_text(c, k, o), "string", useArrow=False)
    return udf(F.col(case), F.col(key), F.col(other))


def _clash_text(case: str, key: str, other: str) -> str:
    from fhir_adapter.bulk.export import clash_outcome, ndjson_text

    return ndjson_text(clash_outcome(case, key, other))
