package models

import (
	"time"

	"github.com/gofrs/uuid"
)

// Post is a blog post.
type Post struct {
	ID          uuid.UUID  `json:"id" db:"id"`
	Slug        string     `json:"slug" db:"slug"`
	Title       string     `json:"title" db:"title"`
	Body        string     `json:"body" db:"body"`
	CoverImage  string     `json:"cover_image" db:"cover_image"`
	PublishAt   *time.Time `json:"publish_at" db:"publish_at"`
	PublishedAt *time.Time `json:"published_at" db:"published_at"`
	CreatedAt   time.Time  `json:"created_at" db:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at" db:"updated_at"`
}

// Posts is a list of posts.
type Posts []Post

// Comment is a reader's comment on a post.
type Comment struct {
	ID        uuid.UUID `json:"id" db:"id"`
	PostID    uuid.UUID `json:"post_id" db:"post_id"`
	Author    string    `json:"author" db:"author"`
	Body      string    `json:"body" db:"body"`
	CreatedAt time.Time `json:"created_at" db:"created_at"`
	UpdatedAt time.Time `json:"updated_at" db:"updated_at"`
}

// Subscriber receives the weekly digest.
type Subscriber struct {
	ID        uuid.UUID `json:"id" db:"id"`
	Email     string    `json:"email" db:"email"`
	CreatedAt time.Time `json:"created_at" db:"created_at"`
	UpdatedAt time.Time `json:"updated_at" db:"updated_at"`
}
