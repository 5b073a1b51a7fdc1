// The restricted unpickler, on pickles assembled opcode by opcode.
#include <catch2/catch.hpp>
#include <cstdint>
#include <string>

#include "base/error.h"
#include "weights/pickle.h"

namespace pickle = resnet_cli::pickle;
using resnet_cli::Error;
using resnet_cli::ErrorKind;

namespace {

// Writes pickle opcodes; names follow Lib/pickletools.py.
class PickleBuilder {
 public:
  PickleBuilder& proto(int version) { return op(0x80).byte(version); }
  PickleBuilder& global(const std::string& module, const std::string& name) {
    bytes_ += 'c' + module + '\n' + name + '\n';
    return *this;
  }
  PickleBuilder& stack_global() { return op(0x93); }
  PickleBuilder& mark() { return op('('); }
  PickleBuilder& text(const std::string& value) {
    op('X').le32(static_cast<std::uint32_t>(value.size()));
    bytes_ += value;
    return *this;
  }
  PickleBuilder& short_text(const std::string& value) {
    op(0x8c).byte(static_cast<int>(value.size()));
    bytes_ += value;
    return *this;
  }
  PickleBuilder& int1(int value) { return op('K').byte(value); }
  PickleBuilder& int4(std::int32_t value) {
    return op('J').le32(static_cast<std::uint32_t>(value));
  }
  PickleBuilder& long1(const std::string& little_endian) {
    op(0x8a).byte(static_cast<int>(little_endian.size()));
    bytes_ += little_endian;
    return *this;
  }
  PickleBuilder& binfloat(const std::string& big_endian8) {
    op('G');
    bytes_ += big_endian8;
    return *this;
  }
  PickleBuilder& none() { return op('N'); }
  PickleBuilder& boolean(bool value) { return op(value ? 0x88 : 0x89); }
  PickleBuilder& empty_tuple() { return op(')'); }
  PickleBuilder& tuple() { return op('t'); }
  PickleBuilder& tuple1() { return op(0x85); }
  PickleBuilder& tuple2() { return op(0x86); }
  PickleBuilder& empty_list() { return op(']'); }
  PickleBuilder& append() { return op('a'); }
  PickleBuilder& empty_dict() { return op('}'); }
  PickleBuilder& setitem() { return op('s'); }
  PickleBuilder& setitems() { return op('u'); }
  PickleBuilder& put(int index) { return op('q').byte(index); }
  PickleBuilder& get(int index) { return op('h').byte(index); }
  PickleBuilder& reduce() { return op('R'); }
  PickleBuilder& build() { return op('b'); }
  PickleBuilder& newobj() { return op(0x81); }
  PickleBuilder& persid() { return op('Q'); }
  PickleBuilder& stop() { return op('.'); }
  PickleBuilder& raw(const std::string& bytes) {
    bytes_ += bytes;
    return *this;
  }
  PickleBuilder& op(int code) { return byte(code); }
  PickleBuilder& byte(int value) {
    bytes_.push_back(static_cast<char>(value));
    return *this;
  }
  PickleBuilder& le32(std::uint32_t value) {
    for (int i = 0; i < 4; ++i)
      byte(static_cast<int>((value >> (8 * i)) & 0xff));
    return *this;
  }

  // ('storage', torch.<type>, key, 'cpu', numel) as a persistent id.
  PickleBuilder& storage(const std::string& type, const std::string& key,
                         int numel) {
    return mark()
        .text("storage")
        .global("torch", type)
        .text(key)
        .text("cpu")
        .int1(numel)
        .tuple()
        .persid();
  }

  // _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())
  PickleBuilder& tensor(const std::string& key, int numel, int offset, int rows,
                        int cols, int row_stride, int col_stride) {
    global("torch._utils", "_rebuild_tensor_v2")
        .mark()
        .storage("FloatStorage", key, numel)
        .int1(offset)
        .int1(rows)
        .int1(cols)
        .tuple2()
        .int1(row_stride)
        .int1(col_stride)
        .tuple2()
        .boolean(false)
        .global("collections", "OrderedDict")
        .empty_tuple()
        .reduce()
        .tuple()
        .reduce();
    return *this;
  }

  pickle::ValuePtr parse(const std::string& name = "test.pkl") const {
    return pickle::unpickle(
        reinterpret_cast<const std::uint8_t*>(bytes_.data()), bytes_.size(),
        name);
  }

  std::string bytes_;
};

std::string error_of(const PickleBuilder& builder) {
  try {
    builder.parse();
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kCheckpoint);
    return e.what();
  }
  FAIL("unpickle accepted the input");
  return "";
}

}  // namespace

TEST_CASE("unpickles a state_dict as torch.save writes it", "[pickle]") {
  PickleBuilder p;
  p.proto(2)
      .global("collections", "OrderedDict")
      .put(0)
      .empty_tuple()
      .reduce()
      .put(1)
      .mark()
      .text("fc.weight")
      .tensor("0", 12, 2, 2, 3, 1, 2)  // a transposed view at offset 2
      .text("fc.bias")
      .tensor("1", 3, 0, 3, 1, 1, 1)
      .setitems()
      .empty_dict()
      .text("_metadata")
      .global("collections", "OrderedDict")
      .empty_tuple()
      .reduce()
      .setitem()
      .build()
      .stop();
  const pickle::ValuePtr root = p.parse();
  const auto* dict = root->get_if<pickle::Dict>();
  REQUIRE(dict);
  REQUIRE(dict->items.size() == 2);
  CHECK(*dict->items[0].first->get_if<std::string>() == "fc.weight");
  const auto* weight = dict->items[0].second->get_if<pickle::TensorRef>();
  REQUIRE(weight);
  CHECK(weight->storage->key == "0");
  CHECK(weight->storage->type == pickle::ScalarType::kFloat32);
  CHECK(weight->storage->numel == 12);
  CHECK(weight->storage_offset == 2);
  CHECK(weight->sizes == std::vector<std::int64_t>{2, 3});
  CHECK(weight->strides == std::vector<std::int64_t>{1, 2});
  REQUIRE(dict->attributes);
  CHECK(dict->attributes->get_if<pickle::Dict>());
}

TEST_CASE("a storage named twice is one storage", "[pickle]") {
  PickleBuilder p;
  p.proto(2).empty_dict().mark();
  p.text("a").tensor("7", 8, 0, 2, 2, 2, 1);
  p.text("b").tensor("7", 8, 4, 2, 2, 2, 1);
  p.setitems().stop();
  const pickle::ValuePtr root = p.parse();
  const auto* dict = root->get_if<pickle::Dict>();
  REQUIRE(dict);
  const auto* a = dict->items[0].second->get_if<pickle::TensorRef>();
  const auto* b = dict->items[1].second->get_if<pickle::TensorRef>();
  CHECK(a->storage.get() == b->storage.get());
  CHECK(b->storage_offset == 4);
}

TEST_CASE("refuses globals outside the allow-list without running them",
          "[pickle]") {
  SECTION("os.system through GLOBAL") {
    PickleBuilder p;
    p.proto(2)
        .global("os", "system")
        .text("touch /tmp/x")
        .tuple1()
        .reduce()
        .stop();
    const std::string message = error_of(p);
    CHECK_THAT(message, Catch::Contains("refusing global 'os.system'"));
    CHECK_THAT(message, Catch::Contains("test.pkl"));
  }
  SECTION("builtins.eval through STACK_GLOBAL") {
    PickleBuilder p;
    p.proto(4).short_text("builtins").short_text("eval").stack_global().stop();
    CHECK_THAT(error_of(p), Catch::Contains("refusing global 'builtins.eval'"));
  }
  SECTION("posix.system, as pickle names os.system on Linux") {
    PickleBuilder p;
    p.proto(2).global("posix", "system").stop();
    CHECK_THAT(error_of(p), Catch::Contains("posix.system"));
  }
  SECTION("a storage type called like a function") {
    PickleBuilder p;
    p.proto(2).global("torch", "FloatStorage").empty_tuple().reduce().stop();
    CHECK_THAT(error_of(p),
               Catch::Contains("may only appear in a persistent id"));
  }
  SECTION("NEWOBJ of a tensor rebuilder") {
    PickleBuilder p;
    p.proto(2)
        .global("torch._utils", "_rebuild_tensor_v2")
        .empty_tuple()
        .newobj()
        .stop();
    CHECK_THAT(error_of(p), Catch::Contains("NEWOBJ"));
  }
}

TEST_CASE("hostile lengths and shapes fail cleanly", "[pickle]") {
  SECTION("a string length far past the end") {
    PickleBuilder p;
    p.proto(2).op('X').le32(0xFFFFFFF0u).raw("abc").stop();
    CHECK_THAT(error_of(p), Catch::Contains("length field runs past the end"));
  }
  SECTION("truncated input") {
    PickleBuilder p;
    p.proto(2).empty_dict().text("key");
    CHECK_THAT(error_of(p), Catch::Contains("unexpected end of data"));
  }
  SECTION("a list that contains itself") {
    PickleBuilder p;
    p.proto(2).empty_list().put(0).get(0).append().stop();
    CHECK_THAT(error_of(p), Catch::Contains("cyclic"));
  }
  SECTION("nesting deeper than the limit") {
    PickleBuilder p;
    p.proto(2);
    for (int i = 0; i < 300; ++i) p.empty_list();
    for (int i = 0; i < 299; ++i) p.append();
    p.stop();
    CHECK_THAT(error_of(p), Catch::Contains("nested deeper"));
  }
  SECTION("an unknown opcode") {
    PickleBuilder p;
    p.proto(2).op(0xFE).stop();
    CHECK_THAT(error_of(p), Catch::Contains("unsupported opcode 0xfe"));
  }
  SECTION("a memo key never stored") {
    PickleBuilder p;
    p.proto(2).get(9).stop();
    CHECK_THAT(error_of(p), Catch::Contains("memo key 9"));
  }
  SECTION("stack underflow") {
    PickleBuilder p;
    p.proto(2).append().stop();
    CHECK_THAT(error_of(p), Catch::Contains("stack underflow"));
  }
  SECTION("a tensor reaching a negative size") {
    PickleBuilder p;
    p.proto(2)
        .global("torch._utils", "_rebuild_tensor_v2")
        .mark()
        .storage("FloatStorage", "0", 4)
        .int1(0)
        .int4(-2)
        .tuple1()
        .int1(1)
        .tuple1()
        .boolean(false)
        .empty_dict()
        .tuple()
        .reduce()
        .stop();
    CHECK_THAT(error_of(p), Catch::Contains("negative"));
  }
  SECTION("too many values") {
    PickleBuilder p;
    p.proto(2).empty_list();
    for (int i = 0; i < 200; ++i) p.none().append();
    p.stop();
    pickle::Limits limits;
    limits.max_pushes = 100;
    CHECK_THROWS_WITH(
        pickle::unpickle(reinterpret_cast<const std::uint8_t*>(p.bytes_.data()),
                         p.bytes_.size(), "x", limits),
        Catch::Contains("too many values"));
  }
}

TEST_CASE("scalars decode as Python would", "[pickle]") {
  SECTION("LONG1 is signed little-endian") {
    PickleBuilder p;
    p.proto(2).long1(std::string("\xff\xff", 2)).stop();
    CHECK(*p.parse()->get_if<std::int64_t>() == -1);
  }
  SECTION("LONG1 positive with a zero high byte") {
    PickleBuilder p;
    p.proto(2).long1(std::string("\xff\x00", 2)).stop();
    CHECK(*p.parse()->get_if<std::int64_t>() == 255);
  }
  SECTION("BININT is signed") {
    PickleBuilder p;
    p.proto(2).int4(-123456).stop();
    CHECK(*p.parse()->get_if<std::int64_t>() == -123456);
  }
  SECTION("BINFLOAT is big-endian IEEE double") {
    PickleBuilder p;
    p.proto(2)
        .binfloat(std::string("\x3f\xf8\x00\x00\x00\x00\x00\x00", 8))
        .stop();
    CHECK(*p.parse()->get_if<double>() == 1.5);
  }
  SECTION("bytes pickled by protocol 2 through _codecs.encode") {
    PickleBuilder p;
    p.proto(2)
        .global("_codecs", "encode")
        .text("caf\xc3\xa9")
        .text("latin1")
        .tuple2()
        .reduce()
        .stop();
    const pickle::ValuePtr root = p.parse();
    const auto* bytes = root->get_if<pickle::Bytes>();
    REQUIRE(bytes);
    CHECK(bytes->data == "caf\xe9");
  }
  SECTION("argparse.Namespace is an inert record") {
    PickleBuilder p;
    p.proto(2)
        .global("argparse", "Namespace")
        .empty_tuple()
        .newobj()
        .empty_dict()
        .text("lr")
        .int1(1)
        .setitem()
        .build()
        .stop();
    const pickle::ValuePtr root = p.parse();
    const auto* object = root->get_if<pickle::Object>();
    REQUIRE(object);
    CHECK(object->class_name == "argparse.Namespace");
  }
}

namespace {

// _rebuild_qtensor(QInt8Storage, 0, (rows,), (1,), params, False,
// OrderedDict()), `params` written by `write_params`.
template <typename Params>
PickleBuilder qtensor(const std::string& storage_type, int rows,
                      Params write_params) {
  PickleBuilder p;
  p.proto(2).global("torch._utils", "_rebuild_qtensor").mark();
  p.storage(storage_type, "0", rows)
      .int1(0)
      .int1(rows)
      .tuple1()
      .int1(1)
      .tuple1();
  write_params(p);
  p.boolean(false)
      .global("collections", "OrderedDict")
      .empty_tuple()
      .reduce()
      .tuple()
      .reduce()
      .stop();
  return p;
}

// A double 0.5, big-endian as BINFLOAT stores it.
const std::string kHalf("\x3f\xe0\x00\x00\x00\x00\x00\x00", 8);

}  // namespace

TEST_CASE("quantized tensors unpickle with their scheme and parameters",
          "[pickle]") {
  SECTION("per tensor affine") {
    const auto value = qtensor("QInt8Storage", 4, [](PickleBuilder& p) {
                         p.mark()
                             .global("torch", "per_tensor_affine")
                             .binfloat(kHalf)
                             .int1(3)
                             .tuple();
                       }).parse();
    const auto* tensor = value->get_if<pickle::TensorRef>();
    REQUIRE(tensor);
    REQUIRE(tensor->quantizer);
    CHECK(tensor->storage->type == pickle::ScalarType::kQInt8);
    CHECK(tensor->quantizer->scheme == pickle::QScheme::kPerTensorAffine);
    CHECK(tensor->quantizer->scale == 0.5);
    CHECK(tensor->quantizer->zero_point == 3);
    CHECK(pickle::describe(*value) == "quantized tensor[4]");
  }
  SECTION("per channel affine, parameters as lists (older files)") {
    const auto value = qtensor("QUInt8Storage", 2, [](PickleBuilder& p) {
                         p.mark()
                             .global("torch", "per_channel_affine")
                             .empty_list()
                             .binfloat(kHalf)
                             .append()
                             .binfloat(kHalf)
                             .append()
                             .empty_list()
                             .int1(0)
                             .append()
                             .int1(1)
                             .append()
                             .int1(0)
                             .tuple();
                       }).parse();
    const auto* tensor = value->get_if<pickle::TensorRef>();
    REQUIRE(tensor);
    CHECK(tensor->quantizer->scheme == pickle::QScheme::kPerChannelAffine);
    CHECK(tensor->quantizer->axis == 0);
    CHECK(tensor->quantizer->scales->get_if<pickle::List>()->items.size() == 2);
  }
}

TEST_CASE("malformed quantized tensors are refused", "[pickle]") {
  const auto per_tensor = [](PickleBuilder& p) {
    p.mark()
        .global("torch", "per_tensor_affine")
        .binfloat(kHalf)
        .int1(0)
        .tuple();
  };
  // A quantized rebuild of a float storage, and a plain one of a quantized
  // storage.
  CHECK_THAT(error_of(qtensor("FloatStorage", 4, per_tensor)),
             Catch::Contains("not a quantized one"));
  PickleBuilder plain;
  plain.proto(2).tensor("0", 4, 0, 2, 2, 2, 1).stop();
  CHECK_NOTHROW(plain.parse());
  // Symmetric schemes name observers; torch cannot rebuild them either.
  CHECK_THAT(error_of(qtensor("QInt8Storage", 4,
                              [](PickleBuilder& p) {
                                p.mark()
                                    .global("torch", "per_tensor_symmetric")
                                    .binfloat(kHalf)
                                    .int1(0)
                                    .tuple();
                              })),
             Catch::Contains("per_tensor_symmetric"));
  // Parameters of the wrong shape.
  CHECK_THAT(error_of(qtensor("QInt8Storage", 4,
                              [](PickleBuilder& p) {
                                p.mark()
                                    .global("torch", "per_tensor_affine")
                                    .binfloat(kHalf)
                                    .tuple();
                              })),
             Catch::Contains("per_tensor_affine takes scale, zero_point"));
  CHECK_THAT(error_of(qtensor("QInt8Storage", 4,
                              [](PickleBuilder& p) {
                                p.mark()
                                    .global("torch", "per_channel_affine")
                                    .text("scales")
                                    .empty_list()
                                    .int1(0)
                                    .tuple();
                              })),
             Catch::Contains("per-channel scales must be a tensor or a list"));
  // A qscheme or a dtype is a value; calling one is refused.
  PickleBuilder call;
  call.proto(2).global("torch", "qint8").empty_tuple().reduce().stop();
  CHECK_THAT(error_of(call), Catch::Contains("torch.qint8 is a value"));
  // Anything else in the parameters' place is still only data.
  CHECK_THAT(
      error_of(qtensor(
          "QInt8Storage", 4,
          [](PickleBuilder& p) {
            p.mark().global("posix", "system").binfloat(kHalf).int1(0).tuple();
          })),
      Catch::Contains("refusing global 'posix.system'"));
}
