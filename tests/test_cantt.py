"""The can-train-and-test CSV reader on real hcrl_sa lines and on a corpus of bad lines."""

import numpy as np
import pytest

from canguard.ingest.cantt import read_cantt_csv
from canguard.ingest.result import NotCanDataError

BAD_CORPUS = """timestamp,arbitration_id,data_field,attack
1513921815.350702,081,7F84690000000069,0
1513920093.61536,4C7,100000,1

1.5,0C5,,0
x,0C5,00,0
1.6,0C5,000,0
1.7,0C5,001122334455667788,0
1.8,0C5,00,2
1.9,0C5,00
2.0,na,00,0
2.1,ZZZ,00,0
2.2,0x1FF,GG,0
2.3,0x1FF,0102,0
2.4,1FF,na,0
"""

EXPECTED_REJECTS = {
    4: "empty line",
    6: "timestamp is not a number",
    7: "data_field is not 0-16 hex digits",  # odd length
    8: "data_field is not 0-16 hex digits",  # 9 bytes: DLC over 8
    9: "attack is not 0 or 1",
    10: "expected 4 fields",
    11: "missing arbitration_id",
    12: "arbitration_id is not a CAN ID",
    13: "data_field is not 0-16 hex digits",  # bad hex
    15: "missing data_field",
}


def test_bad_lines_are_rejected_with_line_and_reason(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(BAD_CORPUS)
    result = read_cantt_csv(path)
    rejects = {r["line"]: r for r in result.rejects.to_pylist()}
    assert set(rejects) == set(EXPECTED_REJECTS)
    for line, reason in EXPECTED_REJECTS.items():
        assert rejects[line]["reason"].startswith(reason), (line, rejects[line])
    assert rejects[12]["raw"] == "2.1,ZZZ,00,0"
    # kept: lines 2, 3, 5 (DLC 0) and 14 (0x prefix)
    assert result.line.tolist() == [2, 3, 5, 14]
    assert result.frames.dlc.tolist() == [8, 3, 0, 2]
    assert result.frames.can_id.tolist() == [0x081, 0x4C7, 0x0C5, 0x1FF]
    assert result.frames.label.tolist() == [0, 1, 0, 0]
    assert result.header_lines + result.rows_read == BAD_CORPUS.count("\n")


def test_wrong_header_is_not_can_data(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("time,id,payload\n1,2,3\n")
    with pytest.raises(NotCanDataError, match=r"other\.csv:1: expected the can-train-and-test header"):
        read_cantt_csv(path)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-32"])
def test_header_after_a_byte_order_mark_and_wide_encodings(tmp_path, encoding):
    """A BOM before the header, or a UTF-16/32 export, reads exactly like the UTF-8 file."""
    plain, encoded = tmp_path / "plain.csv", tmp_path / "encoded.csv"
    plain.write_text(BAD_CORPUS)
    encoded.write_bytes(BAD_CORPUS.encode(encoding))
    a, b = read_cantt_csv(plain), read_cantt_csv(encoded)
    assert b.line.tolist() == a.line.tolist() == [2, 3, 5, 14]
    assert b.frames.payload.tolist() == a.frames.payload.tolist()
    assert b.rejects.to_pylist() == a.rejects.to_pylist()
    assert b.header_lines == 1


def test_real_hcrl_sa_recording(hcrl_sa_sample):
    """Real Kia DoS lines: DLC < 8 kept with zero padding, labels, monotone line numbers."""
    result = read_cantt_csv(hcrl_sa_sample / "train_02_with_attacks" / "DoS-kia.csv")
    frames = result.frames
    assert result.rejects.num_rows == 0
    assert len(frames) == 2999 and result.line[0] == 2 and result.line[-1] == 3000
    assert frames.padding_is_zero()
    assert frames.timestamp[0] == pytest.approx(1513921815.350702)
    assert frames.can_id[0] == 0x081 and frames.payload[0].tolist() == [0x7F, 0x84, 0x69, 0, 0, 0, 0, 0x69]
    assert set(np.unique(frames.label)) <= {0, 1}
    assert np.all(np.diff(result.line) == 1)


def test_real_spark_has_many_short_frames(hcrl_sa_sample):
    """About 40 % of Spark messages have DLC < 8 (dataset README); padding stays distinguishable."""
    frames = read_cantt_csv(hcrl_sa_sample / "test_02_unknown_vehicle_known_attack" / "DoS-spark.csv").frames
    short = frames.dlc < 8
    assert 0.2 < short.mean() < 0.6
    assert frames.padding_is_zero()
    # a payload whose last real byte is 0x00 is not the same row as a shorter one
    assert np.any(frames.dlc[short] > 0)
