"""ModelInfo: what a model file says (difflm_model_info), for Model and Context."""
import ctypes
import dataclasses

from . import lowlevel as ll
from ._errors import Error


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """difflm_model_info without struct_size; ids are -1 where the model has none.
    max_canvas is the context's (0 for Model.describe())."""
    arch: int
    n_vocab: int
    n_ctx_train: int
    max_canvas: int
    n_layer: int
    n_embd: int
    n_head: int
    n_head_kv: int
    n_ff: int
    shift_logits: bool
    mask_id: int
    bos_id: int
    eos_id: int
    eot_id: int
    add_bos: bool
    n_params: int
    block_length: int


def model_info_from(out):
    """A filled difflm_model_info -> ModelInfo (checking the size the library filled)."""
    if out.struct_size != ctypes.sizeof(out):
        raise Error(ll.E_INTERNAL, "the library fills %d bytes of difflm_model_info, the "
                    "binding mirrors %d" % (out.struct_size, ctypes.sizeof(out)))
    values = {f.name: getattr(out, f.name) for f in dataclasses.fields(ModelInfo)}
    values["shift_logits"] = bool(values["shift_logits"])
    values["add_bos"] = bool(values["add_bos"])
    return ModelInfo(**values)
