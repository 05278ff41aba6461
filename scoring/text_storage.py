"""How pandas stores text in this package: as Python strings.

With pyarrow installed (it reads lighteval's parquet files), pandas 3 would store every text
column in Arrow, which cannot hold a lone surrogate (a JSON escape can make one): validating an
upload would then fail where it now names the cell. Python storage keeps text as the readers and
their messages expect it. `scoring/__init__.py` imports this module before anything else.
"""

import pandas as pd

pd.set_option("mode.string_storage", "python")
