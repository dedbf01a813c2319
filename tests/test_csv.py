"""CSV logs: valid files load, and every bad file fails with the file, line, column and value."""
import numpy as np
import pytest

from bst_teach.data.csv import load_csv
from bst_teach.data.errors import DataError
from bst_teach.data.samples import build_dataset

HEADER = "user_id,item_id,timestamp,label\n"


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


# --- valid files --------------------------------------------------------------------------------
def test_labels(tmp_path):
    path = write(tmp_path, "clicks.csv", HEADER + "u1,i1,100,1\nu1,i2,200,0\n\nu2, i1 ,50.9,1\n")
    data = load_csv(path)
    assert data.name == "clicks"
    ev = data.events
    assert ev["user_id"].tolist() == ["u1", "u1", "u2"]
    assert ev["item_id"].tolist() == ["i1", "i2", "i1"]  # spaces stripped, ids stay strings
    assert ev["timestamp"].tolist() == [100, 200, 50] and ev["timestamp"].dtype == np.int64
    assert ev["label"].tolist() == [1, 0, 1]
    assert data.items.to_dict("list") == {"item_id": ["i1", "i2"], "category": ["unknown"] * 2}
    assert data.users is None


def test_ids_are_strings(tmp_path):
    path = write(tmp_path, "ids.csv", HEADER + "007,42,1,1\n")
    ev = load_csv(path).events
    assert ev["user_id"].tolist() == ["007"] and ev["item_id"].tolist() == ["42"]


def test_ratings_with_threshold(tmp_path):
    path = write(tmp_path, "ratings.csv",
                 "user_id,item_id,timestamp,rating,comment\nu1,i1,1,4.5,nice\nu1,i2,2,3,meh\n")
    ev = load_csv(path, positive_threshold=4, name="mine").events
    assert ev["label"].tolist() == [1, 0]
    assert ev["rating"].tolist() == [4.5, 3.0]
    assert "comment" not in ev.columns


def test_ratings_without_threshold(tmp_path):
    path = write(tmp_path, "ratings.csv", "user_id,item_id,timestamp,rating\nu1,i1,1,4\n")
    with pytest.raises(DataError, match="positive_threshold"):
        load_csv(path)


def test_items_and_users(tmp_path):
    inter = write(tmp_path, "inter.csv", HEADER + "u1,i1,1,1\nu2,i2,2,0\nu2,i9,3,1\n")
    items = write(tmp_path, "items.csv",
                  "item_id,category,brand\ni1,Action|Comedy,acme\ni2,Drama,\ni3,Horror,zeta\n")
    users = write(tmp_path, "users.csv", "user_id,gender,city\nu1,F,Paris\nu2,M,\n")
    data = load_csv(inter, items=items, users=users)
    it = data.items.set_index("item_id")
    assert list(data.items.columns) == ["item_id", "category", "brand"]
    assert it.loc["i1"].tolist() == ["Action", "acme"]  # first entry of a |-separated list
    assert it.loc["i2"].tolist() == ["Drama", "unknown"]  # empty extra value
    assert it.loc["i9"].tolist() == ["unknown", "unknown"]  # used but not in the items file
    assert list(data.users.columns) == ["user_id", "gender", "city"]
    assert data.users.set_index("user_id").loc["u2"].tolist() == ["M", "unknown"]


def test_end_to_end(tmp_path):
    rng = np.random.default_rng(0)
    rows = [f"u{u},i{rng.integers(8)},{1000 * u + 60 * k},{rng.integers(2)}"
            for u in range(4) for k in range(10)]
    inter = write(tmp_path, "inter.csv", HEADER + "\n".join(rows) + "\n")
    items = write(tmp_path, "items.csv",
                  "item_id,category\n" + "".join(f"i{i},{'AB'[i % 2]}|X\n" for i in range(8)))
    users = write(tmp_path, "users.csv", "user_id,gender,age\nu0,F,20\nu1,M,30\nu2,F,40\nu3,M,50\n")
    ds = build_dataset(load_csv(inter, items=items, users=users), max_len=5)
    assert len(ds.train) + len(ds.val) + len(ds.test) == 40
    names = [f.name for f in ds.schema.features]
    assert {"user_id", "gender", "age", "gender_x_category"} <= set(names)
    assert set(ds.info["categories"]) == {"A", "B"}
    for split in ("train", "val", "test"):
        s = getattr(ds, split)
        assert (s.hist_gap[s.mask] > 0).all()
        assert s.hist_item.shape[1] == 5
    assert ds.train.mask.sum(1).max() == 5


# --- bad files: the message names file, line, column and value -----------------------------------
GOOD = "u1,i1,100,1\n"  # lines 2.. of a file; the header is line 1


@pytest.mark.parametrize("body, line, column, value", [
    (GOOD * 5 + "u1,i2,abc,1\n", 7, "timestamp", "'abc' is not a number"),
    (GOOD + "u1,i2,-5,1\n", 3, "timestamp", "'-5' is negative"),
    (GOOD * 2 + "u1,i2,5,2\n", 4, "label", "'2' is not 0 or 1"),
    (GOOD + "u1,i2,5,yes\n", 3, "label", "'yes' is not 0 or 1"),
    (GOOD + "u1,,5,1\n", 3, "item_id", "empty value"),
    (GOOD + "\n\n" + "u1,i2,x,1\n", 5, "timestamp", "'x'"),  # blank lines still count
    (GOOD + "u1,i2,5,zz\n" + "u1,i2,x,1\n", 3, "label", "'zz'"),  # the first bad line wins
    (GOOD + "u1,i2,x,zz\n", 3, "timestamp", "'x'"),  # ... and the leftmost column on it
])
def test_bad_value(tmp_path, body, line, column, value):
    path = write(tmp_path, "interactions.csv", HEADER + body)
    with pytest.raises(DataError) as e:
        load_csv(path)
    msg = str(e.value)
    assert "interactions.csv" in msg and f"line {line}," in msg
    assert f"column '{column}'" in msg and value in msg
    assert (e.value.line, e.value.column) == (line, column)


@pytest.mark.parametrize("body, line, found", [
    (GOOD * 3 + "u1,i2,5,1,extra\n", 5, 5),
    (GOOD + "u1,i2\n", 3, 2),
])
def test_wrong_field_count(tmp_path, body, line, found):
    path = write(tmp_path, "interactions.csv", HEADER + body)
    with pytest.raises(DataError) as e:
        load_csv(path)
    assert str(e.value) == f"{path}, line {line}: expected 4 fields like the header, found {found}"


def test_bad_value_before_long_line_wins(tmp_path):
    path = write(tmp_path, "interactions.csv", HEADER + GOOD + "u1,i2,x,1\n" + GOOD + "a,b,1,1,1\n")
    with pytest.raises(DataError, match="line 3, column 'timestamp': 'x'"):
        load_csv(path)


def test_bad_rating(tmp_path):
    path = write(tmp_path, "r.csv", "user_id,item_id,timestamp,rating\nu1,i1,1,4\nu1,i1,2,five\n")
    with pytest.raises(DataError, match=r"r\.csv, line 3, column 'rating': 'five' is not a number"):
        load_csv(path, positive_threshold=4)


def test_missing_columns(tmp_path):
    path = write(tmp_path, "interactions.csv", "user,item_id,when,label\nu1,i1,1,1\n")
    with pytest.raises(DataError) as e:
        load_csv(path)
    msg = str(e.value)
    assert "interactions.csv" in msg
    assert "'user_id'" in msg and "'timestamp'" in msg  # what is missing
    assert "'user'" in msg and "'when'" in msg  # what was found


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    (HEADER, "no events"),
    ("user_id,item_id,timestamp,label,label\nu1,i1,1,1,1\n",
     "line 1: column 'label' appears twice"),
    (HEADER + 'u1,"i1,1,1\n', "line 2: a quoted value is never closed"),
])
def test_bad_structure(tmp_path, text, message):
    path = write(tmp_path, "interactions.csv", text)
    with pytest.raises(DataError, match=message) as e:
        load_csv(path)
    assert "interactions.csv" in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_csv(tmp_path / "nope.csv")


@pytest.mark.parametrize("text, expected", [
    ("item_id,category\ni1,A\ni2,\n", "items.csv, line 3, column 'category': empty value"),
    ("item_id,category\ni1,A\ni2,|B\n", "items.csv, line 3, column 'category': '|B' starts with"),
    ("item_id,category\ni1,A\ni2,B\ni1,C\n",
     "items.csv, line 4, column 'item_id': 'i1' appears again (first on line 2)"),
    ("item_id,genre\ni1,A\n", "missing column(s) 'category'"),
])
def test_bad_items(tmp_path, text, expected):
    inter = write(tmp_path, "inter.csv", HEADER + GOOD)
    items = write(tmp_path, "items.csv", text)
    with pytest.raises(DataError) as e:
        load_csv(inter, items=items)
    assert expected in str(e.value)


@pytest.mark.parametrize("text, expected", [
    ("id,gender\nu1,F\n", "users.csv: missing column(s) 'user_id'"),
    ("user_id,gender\nu1,F\nu2,M\nu1,M\n",
     "users.csv, line 4, column 'user_id': 'u1' appears again (first on line 2)"),
])
def test_bad_users(tmp_path, text, expected):
    inter = write(tmp_path, "inter.csv", HEADER + GOOD)
    users = write(tmp_path, "users.csv", text)
    with pytest.raises(DataError) as e:
        load_csv(inter, users=users)
    assert expected in str(e.value)


# --- timestamps stay exact; units and folders are named -----------------------------------------
def test_whole_seconds_are_read_exactly(tmp_path):
    # float64 would round 1699999999.9999999999 up to 1700000000
    path = write(tmp_path, "t.csv", HEADER + "u1,i1,1699999999.9999999999,1\nu1,i2,1.7e9,0\n"
                 + "u1,i3,+32503679999,1\n")
    ts = load_csv(path).events["timestamp"]
    assert ts.dtype == np.int64
    assert ts.tolist() == [1_699_999_999, 1_700_000_000, 32_503_679_999]


@pytest.mark.parametrize("value", ["1700000000000", str(2 ** 53 + 1), "1.7e12"])
def test_milliseconds_are_refused(tmp_path, value):
    path = write(tmp_path, "ms.csv", HEADER + "u1,i1,1700000000,1\n" + f"u1,i2,{value},0\n")
    with pytest.raises(DataError, match=rf"ms\.csv, line 3, column 'timestamp': '{value}' is "
                                        r"after the year 3000.*milliseconds\? divide by 1000"):
        load_csv(path)


def test_a_folder_is_not_a_missing_file(tmp_path):
    with pytest.raises(DataError, match="is a folder, not a CSV file"):
        load_csv(tmp_path)


def test_messages_are_one_line():
    e = DataError("Error tokenizing data. C error: Expected 2 fields in line 3, saw 3\n",
                  file="f.csv")
    assert str(e) == "f.csv: Error tokenizing data. C error: Expected 2 fields in line 3, saw 3"
