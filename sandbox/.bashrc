# ~/.bashrc of the sandbox's `agent` user: prompt, project directory, Claude Code auto-start.

# Nothing below is for non-interactive shells.
case $- in
  *i*) ;;
  *) return ;;
esac

HISTCONTROL=ignoreboth
HISTSIZE=5000
HISTFILESIZE=10000
shopt -s histappend checkwinsize
if [ -r /usr/share/bash-completion/bash_completion ]; then
  . /usr/share/bash-completion/bash_completion
fi

alias ls='eza --group-directories-first'
alias ll='eza -l --git --group-directories-first'
alias la='eza -la --git --group-directories-first'

# The working directory as the agent sees it: its home is the root of its world, so
# /home/agent shows as `/` and /home/agent/next as `/next`; other paths show as they are.
__sandbox_path() {
  local home=${SANDBOX_HOME:-$HOME}
  case $PWD in
    "$home") printf '/' ;;
    "$home"/*) printf '/%s' "${PWD#"$home"/}" ;;
    *) printf '%s' "$PWD" ;;
  esac
}

# agent@<PROJECT_NAME>:<path>$
PS1='\[\e[1;32m\]\u@${PROJECT_NAME:-sandbox}\[\e[0m\]:\[\e[1;34m\]$(__sandbox_path)\[\e[0m\]\$ '

# Land in the project unless the shell was started somewhere on purpose.
__sandbox_project=${SANDBOX_PROJECT_DIR:-$HOME/next}
if [ -d "$__sandbox_project" ] && { [ "$PWD" = "$HOME" ] || [ "$PWD" = / ]; }; then
  cd "$__sandbox_project" || true
fi
unset __sandbox_project

# Claude Code starts once per session, in the first terminal that connects. The flag file is
# created with noclobber (an exclusive create), so two tabs opened at once cannot both win;
# the entrypoint clears it when the container starts. SANDBOX_AUTOSTART_CLAUDE=0 turns it off.
__sandbox_autostart_claude() {
  [ "${SANDBOX_AUTOSTART_CLAUDE:-1}" = 1 ] || return 0
  [ -t 0 ] && [ -t 1 ] || return 0
  command -v claude >/dev/null 2>&1 || return 0
  local dir=${SANDBOX_SESSION_DIR:-/tmp/sandbox-session}
  mkdir -p "$dir" 2>/dev/null || return 0
  if (set -o noclobber; : > "$dir/claude-started") 2>/dev/null; then
    claude
  fi
}
__sandbox_autostart_claude
