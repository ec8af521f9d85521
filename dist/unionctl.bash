# unionctl.bash - bash completion for unionctl (installed as
# share/bash-completion/completions/unionctl). Commands and options come
# from `unionctl --help` / `unionctl CMD --help`, peer names from
# `unionctl peers --csv`, field names (the office's declared ones too) from
# `unionctl fields --csv` (only when the daemon answers; never blocks long;
# the built-in names otherwise).

_unionctl_builtin_fields="name gender id_number phone category employer union notes office joined status benefits merged_into"

# Field names: the daemon's list (declared fields included), else built-in.
_unionctl_fields_of()
{
    local f
    f=$(timeout 2 unionctl "$@" fields --csv 2>/dev/null | sed 1d | cut -d, -f1)
    echo "${f:-$_unionctl_builtin_fields}"
}

_unionctl()
{
    local cur prev words cword
    _init_completion 2>/dev/null || {
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD - 1]}
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    }
    local i cmd="" data=()
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
        -d) data=(-d "${words[i + 1]}"); ((i++)) ;;
        -*) ;;
        *) [[ -z $cmd ]] && cmd=${words[i]} ;;
        esac
    done
    if [[ $prev == -d ]]; then
        COMPREPLY=($(compgen -d -- "$cur"))
        return
    fi
    if [[ -z $cmd ]]; then
        local cmds
        cmds=$(unionctl --help 2>/dev/null | sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p')
        COMPREPLY=($(compgen -W "$cmds -d --help --version" -- "$cur"))
        return
    fi
    local fields
    case $prev in
    --where | --sort | --by | --across)
        fields=$(_unionctl_fields_of "${data[@]}")
        COMPREPLY=($(compgen -W "$fields" -- "$cur"))
        return
        ;;
    esac
    if [[ $cur == -* ]]; then
        local opts
        opts=$(unionctl "$cmd" --help 2>/dev/null | grep -o -- '--\?-[a-zA-Z][a-z-]*' | sort -u)
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi
    case $cmd in
    add | edit | list | show | resolve | transfer)
        compopt -o nospace 2>/dev/null
        fields=$(_unionctl_fields_of "${data[@]}")
        fields=$(echo $fields)
        COMPREPLY=($(compgen -W "${fields// /= }=" -- "$cur"))
        ;;
    field | fields) COMPREPLY=($(compgen -W "add value" -- "$cur")) ;;
    peer | peers | sync)
        local peers
        peers=$(timeout 2 unionctl "${data[@]}" peers --csv 2>/dev/null | sed 1d | cut -d, -f1)
        COMPREPLY=($(compgen -W "add remove $peers" -- "$cur"))
        ;;
    import | bundle) COMPREPLY=($(compgen -f -- "$cur")) ;;
    esac
}
complete -F _unionctl unionctl
