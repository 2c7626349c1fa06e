;;; golsp-leaks.el --- Go leak diagnostics and quick fixes with eglot or lsp-mode  -*- lexical-binding: t; -*-

;; Copyright (C) golsp-leaks contributors

;; Author: golsp-leaks contributors
;; Version: 0.1.0
;; Package-Requires: ((emacs "27.1"))
;; Keywords: languages, tools, go
;; URL: https://pypi.org/project/golsp-leaks/
;; SPDX-License-Identifier: MIT

;; This file is not part of GNU Emacs.

;;; Commentary:

;; golsp-leaks is a language server that finds goroutine, resource and
;; request-scope leaks in Go code while it is typed (a `context.WithTimeout'
;; whose cancel function is lost on an early return, a response body never
;; closed, a ticker never stopped, ...), with quick fixes.  Install the server
;; with `pip install golsp-leaks'.
;;
;; This package registers it with both LSP clients of Emacs:
;;
;; - eglot: an `eglot-server-programs' entry for `go-mode' and `go-ts-mode'.
;;   Eglot runs one server per buffer; so that gopls keeps running, the entry
;;   starts both through the rassumfrassum multiplexer (`pip install
;;   rassumfrassum'), as `rass -- gopls -- golsp-leaks serve', when `rass' and
;;   `gopls' are found (see `golsp-leaks-eglot-with-gopls').  Settings go as
;;   initializationOptions and under `:golspLeaks' in
;;   `eglot-workspace-configuration'.
;;
;; - lsp-mode: an add-on client (`:add-on? t', server id `golsp-leaks'), which
;;   lsp-mode starts next to gopls.  Settings are registered with
;;   `lsp-register-custom-settings' under `golspLeaks.*'.
;;
;; Usage:
;;
;;   (require 'golsp-leaks)          ; or (use-package golsp-leaks :load-path "...")
;;   (add-hook 'go-mode-hook #'eglot-ensure)   ; or #'lsp-deferred
;;
;; The settings are the `golsp-leaks-*' options (M-x customize-group RET
;; golsp-leaks): `golsp-leaks-rules', `golsp-leaks-severity',
;; `golsp-leaks-exclude', `golsp-leaks-debounce-ms'.  Changed through Customize
;; (or `setopt'), they reach the running servers at once; after a plain `setq',
;; run M-x golsp-leaks-apply-settings.
;;
;; Quick fixes are code actions: M-x eglot-code-actions or
;; M-x lsp-execute-code-action at a finding.  M-x golsp-leaks-fix-all applies
;; every fix of the buffer.

;;; Code:

(require 'cl-lib)
(require 'subr-x)

(defgroup golsp-leaks nil
  "Goroutine, resource and request-scope leak diagnostics for Go (golsp-leaks)."
  :group 'tools
  :prefix "golsp-leaks-"
  :link '(url-link "https://pypi.org/project/golsp-leaks/"))

(defun golsp-leaks--set-and-apply (symbol value)
  "Set SYMBOL to VALUE, and hand the new settings to the running servers."
  (set-default symbol value)
  (when (fboundp 'golsp-leaks-apply-settings)
    (golsp-leaks-apply-settings)))

(defcustom golsp-leaks-command nil
  "How to start the server: a list (PROGRAM ARGS...).
nil means \"golsp-leaks serve\" when golsp-leaks is on the variable
`exec-path', else \"python3 -m golsp_leaks serve\"."
  :type '(choice (const :tag "golsp-leaks serve, found on exec-path" nil)
                 (repeat :tag "Program and arguments" string)))

(defcustom golsp-leaks-rules nil
  "Rules turned on or off, by rule id (`golsp-leaks rules' lists them).
An alist of (RULE-ID . BOOLEAN); rules not listed keep their default (on).
Example: ((\"pool-get-without-put\" . nil))."
  :type '(alist :key-type (string :tag "Rule id") :value-type (boolean :tag "On"))
  :set #'golsp-leaks--set-and-apply)

(defcustom golsp-leaks-severity nil
  "Severity of each rule's diagnostics, by rule id.
An alist of (RULE-ID . SEVERITY); SEVERITY is \"error\", \"warning\",
\"information\" or \"hint\".  Example: ((\"lost-cancel\" . \"error\"))."
  :type '(alist :key-type (string :tag "Rule id")
                :value-type (choice (const "error") (const "warning")
                                    (const "information") (const "hint")))
  :set #'golsp-leaks--set-and-apply)

(defcustom golsp-leaks-exclude nil
  "Glob patterns of files not to check, relative to the project root.
Example: (\"gen/**\" \"**/*_mock.go\")."
  :type '(repeat string)
  :set #'golsp-leaks--set-and-apply)

(defcustom golsp-leaks-debounce-ms 100
  "Milliseconds to wait after the last change before checking a file again."
  :type 'integer
  :set #'golsp-leaks--set-and-apply)

(defcustom golsp-leaks-eglot-register t
  "Whether loading this package adds golsp-leaks to `eglot-server-programs'."
  :type 'boolean)

(defcustom golsp-leaks-eglot-with-gopls 'auto
  "How eglot, which runs one server per buffer, runs golsp-leaks with gopls.
`auto': through the rass multiplexer together with gopls when both
`golsp-leaks-rass-command' and `golsp-leaks-gopls-command' are found, else
golsp-leaks alone (with a one-time message on how to keep gopls).
`rass': always through rass with gopls.
nil: golsp-leaks alone."
  :type '(choice (const :tag "rass with gopls when both are installed" auto)
                 (const :tag "Always rass with gopls" rass)
                 (const :tag "golsp-leaks alone" nil)))

(defcustom golsp-leaks-rass-command '("rass")
  "The rassumfrassum multiplexer (`pip install rassumfrassum'), with its options."
  :type '(repeat string))

(defcustom golsp-leaks-gopls-command '("gopls")
  "How rass starts gopls, next to golsp-leaks."
  :type '(repeat string))

;;;; Settings

(defun golsp-leaks--table (alist convert)
  "Return a hash table (a JSON object) from ALIST, values through CONVERT."
  (let ((table (make-hash-table :test #'equal)))
    (dolist (entry alist)
      (puthash (format "%s" (car entry)) (funcall convert (cdr entry)) table))
    table))

(defun golsp-leaks--bool (value)
  "Return VALUE as a JSON boolean."
  (if value t :json-false))

(defun golsp-leaks--rules-table ()
  "Return the rules setting as a JSON object."
  (golsp-leaks--table golsp-leaks-rules #'golsp-leaks--bool))

(defun golsp-leaks--severity-table ()
  "Return the severity setting as a JSON object."
  (golsp-leaks--table golsp-leaks-severity (lambda (v) (format "%s" v))))

(defun golsp-leaks--exclude-vector ()
  "Return the exclude setting as a JSON array."
  (vconcat golsp-leaks-exclude))

(defun golsp-leaks-settings ()
  "Return the server's golspLeaks settings, as a plist ready for JSON."
  (list :rules (golsp-leaks--rules-table)
        :severity (golsp-leaks--severity-table)
        :exclude (golsp-leaks--exclude-vector)
        :debounceMs golsp-leaks-debounce-ms))

(defun golsp-leaks-server-command ()
  "Return the command to start the server with, a list (PROGRAM ARGS...)."
  (cond (golsp-leaks-command golsp-leaks-command)
        ((executable-find "golsp-leaks") (list "golsp-leaks" "serve"))
        ((executable-find "python3") (list "python3" "-m" "golsp_leaks" "serve"))
        (t (list "golsp-leaks" "serve"))))

;;;; eglot

(defvar eglot-server-programs)
(defvar eglot-workspace-configuration)
(declare-function eglot-signal-didChangeConfiguration "eglot" (server))
(declare-function eglot-current-server "eglot" ())
(declare-function eglot--major-modes "eglot" (server) t)
(declare-function eglot-code-actions "eglot" (beg &optional end action-kind interactive))
(declare-function jsonrpc-running-p "jsonrpc" (conn))
(defvar eglot--servers-by-project)

(defvar golsp-leaks--warned-no-rass nil)

(defun golsp-leaks--use-rass-p ()
  "Return non-nil when eglot should start golsp-leaks through rass, with gopls."
  (pcase golsp-leaks-eglot-with-gopls
    ('rass t)
    ('auto (let ((rass (executable-find (car golsp-leaks-rass-command)))
                 (gopls (executable-find (car golsp-leaks-gopls-command))))
             (when (and gopls (not rass) (not golsp-leaks--warned-no-rass))
               (setq golsp-leaks--warned-no-rass t)
               (message "golsp-leaks: eglot runs one server per buffer, so gopls is not started; %s"
                        "`pip install rassumfrassum' runs both (see golsp-leaks-eglot-with-gopls)"))
             (and rass gopls t)))
    (_ nil)))

(defun golsp-leaks--eglot-init-options (_server)
  "Return the initializationOptions of golsp-leaks started alone."
  (golsp-leaks-settings))

(defun golsp-leaks--eglot-rass-init-options (_server)
  "Return the initializationOptions through rass (for golsp-leaks only)."
  ;; rass hands the entries under "rass" to the servers whose executable
  ;; name the key matches (a regexp), and strips them from the others.
  (let ((per-server (make-hash-table :test #'equal)))
    (puthash "golsp" (golsp-leaks-settings) per-server)
    (list :rass per-server)))

;;;###autoload
(defun golsp-leaks-eglot-contact (&optional _interactive)
  "Return the eglot contact for Go buffers (see `eglot-server-programs')."
  (if (golsp-leaks--use-rass-p)
      `(,@golsp-leaks-rass-command "--" ,@golsp-leaks-gopls-command "--" ,@(golsp-leaks-server-command)
                                   :initializationOptions golsp-leaks--eglot-rass-init-options)
    `(,@(golsp-leaks-server-command) :initializationOptions golsp-leaks--eglot-init-options)))

(defun golsp-leaks--eglot-workspace-configuration (config)
  "Return CONFIG with the golspLeaks section set.
CONFIG is a value of `eglot-workspace-configuration'."
  (cond
   ((functionp config)
    config)                             ; the user's own function decides
   ((and (consp config) (consp (car config)))
    ;; An alist ((SECTION . VALUE) ...).
    (cons (cons :golspLeaks (golsp-leaks-settings))
          (cl-remove-if (lambda (entry) (member (format "%s" (car entry)) '(":golspLeaks" "golspLeaks")))
                        config)))
   (t
    ;; A plist (:SECTION VALUE ...), or nothing yet.
    (let ((copy (copy-sequence config)))
      (plist-put copy :golspLeaks (golsp-leaks-settings))))))

(defun golsp-leaks--eglot-update-configuration ()
  "Put the current settings in the default `eglot-workspace-configuration'."
  (when (boundp 'eglot-workspace-configuration)
    (setq-default eglot-workspace-configuration
                  (golsp-leaks--eglot-workspace-configuration
                   (default-value 'eglot-workspace-configuration)))))

(defun golsp-leaks--eglot-servers ()
  "Return the running eglot servers that host golsp-leaks (alone or via rass)."
  (let (found)
    (when (boundp 'eglot--servers-by-project)
      (maphash (lambda (_project servers)
                 (dolist (server servers)
                   (when (and (jsonrpc-running-p server)
                              (let ((modes (ignore-errors (eglot--major-modes server))))
                                (or (memq 'go-mode modes) (memq 'go-ts-mode modes))))
                     (push server found))))
               eglot--servers-by-project))
    found))

;;;###autoload
(defun golsp-leaks-eglot-register ()
  "Add golsp-leaks to `eglot-server-programs' for `go-mode' and `go-ts-mode'."
  (interactive)
  (setq eglot-server-programs
        (cons '((go-mode go-ts-mode) . golsp-leaks-eglot-contact)
              (cl-remove-if (lambda (entry) (eq (cdr entry) 'golsp-leaks-eglot-contact))
                            eglot-server-programs)))
  (golsp-leaks--eglot-update-configuration))

;;;; lsp-mode

(declare-function lsp-register-client "lsp-mode" (client))
(declare-function make-lsp-client "lsp-mode" (&rest args))
(declare-function lsp-stdio-connection "lsp-mode" (command &optional test-command))
(declare-function lsp-activate-on "lsp-mode" (&rest languages))
(declare-function lsp-register-custom-settings "lsp-mode" (props))
(declare-function lsp-configuration-section "lsp-mode" (section))
(declare-function lsp--set-configuration "lsp-mode" (settings))
(declare-function lsp-workspaces "lsp-mode" ())
(declare-function lsp--workspace-client "lsp-mode" (workspace) t)
(declare-function lsp--client-server-id "lsp-mode" (client) t)
(declare-function lsp-session "lsp-mode" ())
(declare-function lsp-session-folder->servers "lsp-mode" (session) t)
(declare-function lsp-execute-code-action-by-kind "lsp-mode" (command-kind))
(defvar lsp--cur-workspace)

(defun golsp-leaks--lsp-settings ()
  "Return the golspLeaks section, as lsp-mode builds it from its settings."
  (lsp-configuration-section "golspLeaks"))

;;;###autoload
(defun golsp-leaks-lsp-register ()
  "Register golsp-leaks with lsp-mode, as an add-on client next to gopls."
  (lsp-register-custom-settings
   '(("golspLeaks.rules" golsp-leaks--rules-table)
     ("golspLeaks.severity" golsp-leaks--severity-table)
     ("golspLeaks.exclude" golsp-leaks--exclude-vector)
     ("golspLeaks.debounceMs" golsp-leaks-debounce-ms)))
  (advice-add 'lsp-execute-code-action :around #'golsp-leaks--lsp-execute-in-own-workspace)
  (lsp-register-client
   (make-lsp-client
    :new-connection (lsp-stdio-connection #'golsp-leaks-server-command
                                          (lambda () (executable-find (car (golsp-leaks-server-command)))))
    :activation-fn (lsp-activate-on "go")
    :major-modes '(go-mode go-ts-mode go-dot-mod-mode)
    :language-id "go"
    :add-on? t
    :priority -2
    :server-id 'golsp-leaks
    :initialization-options #'golsp-leaks-settings
    :initialized-fn (lambda (workspace)
                      (let ((lsp--cur-workspace workspace))
                        (lsp--set-configuration (golsp-leaks--lsp-settings)))))))

(defvar lsp--buffer-workspaces)
(declare-function lsp:code-action-kind? "lsp-mode" (object) t)
(declare-function lsp:code-action-diagnostics? "lsp-mode" (object) t)
(declare-function lsp:diagnostic-source? "lsp-mode" (object) t)
(declare-function lsp:code-action-edit? "lsp-mode" (object) t)
(declare-function lsp:code-action-command? "lsp-mode" (object) t)
(declare-function lsp-request "lsp-mode" (method params &rest args))

(defun golsp-leaks--own-action-p (action)
  "Return non-nil when the code ACTION comes from golsp-leaks."
  (and (hash-table-p action)
       (or (string-suffix-p ".golsp-leaks" (or (lsp:code-action-kind? action) ""))
           (cl-some (lambda (d) (equal (lsp:diagnostic-source? d) "golsp-leaks"))
                    (lsp:code-action-diagnostics? action)))))

(defun golsp-leaks--lsp-execute-in-own-workspace (execute action)
  "Run EXECUTE on ACTION, resolved by golsp-leaks alone when ACTION is its own.
Around `lsp-execute-code-action': lsp-mode 8 sends codeAction/resolve to
every server of the buffer; next to gopls, which resolves code actions
too, it gets back a list of two answers instead of one action.  Only the
resolve request is sent to golsp-leaks alone: the edit is then applied as
usual, so that every server hears of the change."
  (let ((workspace (and (golsp-leaks--own-action-p action)
                        (not (lsp:code-action-edit? action))
                        (not (lsp:code-action-command? action))
                        (cl-find-if
                         (lambda (w)
                           (eq (lsp--client-server-id (lsp--workspace-client w))
                               'golsp-leaks))
                         lsp--buffer-workspaces))))
    (funcall execute (if workspace
                         (let ((lsp--cur-workspace workspace))
                           (lsp-request "codeAction/resolve" action))
                       action))))

(defun golsp-leaks--lsp-workspaces ()
  "Return the running lsp-mode workspaces of golsp-leaks."
  (when (fboundp 'lsp-session)
    (let (found)
      (maphash (lambda (_folder workspaces)
                 (dolist (workspace workspaces)
                   (when (eq (lsp--client-server-id (lsp--workspace-client workspace)) 'golsp-leaks)
                     (cl-pushnew workspace found))))
               (lsp-session-folder->servers (lsp-session)))
      found)))

;;;; Commands

;;;###autoload
(defun golsp-leaks-apply-settings ()
  "Hand the current `golsp-leaks-*' settings to the running servers."
  (interactive)
  (golsp-leaks--eglot-update-configuration)
  (dolist (server (golsp-leaks--eglot-servers))
    (eglot-signal-didChangeConfiguration server))
  (dolist (workspace (golsp-leaks--lsp-workspaces))
    (let ((lsp--cur-workspace workspace))
      (lsp--set-configuration (golsp-leaks--lsp-settings)))))

;;;###autoload
(defun golsp-leaks-fix-all ()
  "Apply every golsp-leaks fix in the buffer (`source.fixAll.golsp-leaks')."
  (interactive)
  (cond
   ((and (fboundp 'eglot-current-server) (eglot-current-server))
    (let ((last-nonmenu-event 13))      ; a key, not a mouse click: no popup menu
      (eglot-code-actions (point-min) (point-max) "source.fixAll.golsp-leaks" t)))
   ((and (boundp 'lsp-mode) (symbol-value 'lsp-mode))
    (lsp-execute-code-action-by-kind "source.fixAll.golsp-leaks"))
   (t (user-error "No eglot or lsp-mode server for golsp-leaks in this buffer"))))

;;;; Registration

(with-eval-after-load 'eglot
  (when golsp-leaks-eglot-register
    (golsp-leaks-eglot-register)))

(with-eval-after-load 'lsp-mode
  (golsp-leaks-lsp-register))

(provide 'golsp-leaks)
;;; golsp-leaks.el ends here
